#!/usr/bin/env bash
# The README's feature-visualisation pictures: eight ImageNet classes from nothing, a channel atlas, a diverse
# batch, and a dream toward a class with and without --decorrelate --transforms standard --lap-norm. About 8
# minutes on two CPU cores.
#
#   bash docs/make_visualize_gallery.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# 8 classes, one atlas (tiles kept in $out): 256 steps at 224 px each, the defaults
inceptionism visualize --atlas classes --classes "goldfish,flamingo,lion,ladybug,balloon,basketball,banana,volcano" \
  --columns 4 -o "$out/classes.png" -q
inceptionism visualize --atlas blocks.5 --channels 0-7 --size 160 --columns 4 -o "$out/channels.png" -q
inceptionism visualize --class "tennis ball" --batch 3 --diversity 100 --size 160 -o "$out/diverse.png" -q
inceptionism dream skimage:astronaut --class "Granny Smith" --max-side 320 -o "$out/apple.png" -q
inceptionism dream skimage:astronaut --class "Granny Smith" --max-side 320 --decorrelate --transforms standard --lap-norm \
  -o "$out/apple-new.png" -q
python - "$out" <<'PY'
import sys
from PIL import Image
out = sys.argv[1]
for name in ("classes", "channels", "diverse"):
    Image.open(f"{out}/{name}.png").convert("RGB").save(f"docs/gallery/visualize-{name}.jpg", quality=90)
a, b = Image.open(f"{out}/apple.png"), Image.open(f"{out}/apple-new.png")
pair = Image.new("RGB", (a.width + b.width + 6, a.height), "white")
pair.paste(a, (0, 0)); pair.paste(b, (a.width + 6, 0))
pair.save("docs/gallery/dream-decorrelate.jpg", quality=90)
PY
ls -la docs/gallery/visualize-*.jpg docs/gallery/dream-decorrelate.jpg
