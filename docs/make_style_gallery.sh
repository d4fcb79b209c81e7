#!/usr/bin/env bash
# Rebuilds the README's style gallery row with the installed `inceptionism` (shipped network, CPU):
# the content, each shipped style, an even mix, then `style` optimisation with each painting.
#     bash docs/make_style_gallery.sh ../shared/images docs/gallery
set -euo pipefail
images=${1:-../shared/images}
out=${2:-docs/gallery}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
content="$images/tubingen.jpg"
python - "$content" "$tmp/content.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
im.thumbnail((384, 384), Image.LANCZOS)
im.save(sys.argv[2])
PY
n=$(inceptionism styles | head -1 | cut -d' ' -f1)
row=("$tmp/content.png")
for ((i = 0; i < n; i++)); do
  inceptionism stylize "$tmp/content.png" --style-index "$i" -o "$tmp/fast-$i.png" -q
  row+=("$tmp/fast-$i.png")
done
inceptionism stylize "$tmp/content.png" --mix "$(python -c "print(','.join(['1'] * $n))")" -o "$tmp/fast-mix.png" -q
row+=("$tmp/fast-mix.png")
opt=("$tmp/content.png")
for painting in starry_night woman-with-hat-matisse shipwreck; do
  inceptionism style "$tmp/content.png" --style "$images/$painting.jpg" --size 384 -o "$tmp/opt-$painting.png" -q
  opt+=("$tmp/opt-$painting.png")
done
python - "$out/shipped-styles.jpg" "${row[@]}" -- "${opt[@]}" <<'PY'
import sys
from PIL import Image
target, rest = sys.argv[1], sys.argv[2:]
split = rest.index("--")
rows = [rest[:split], rest[split + 1:]]
tiles = [[Image.open(p).convert("RGB") for p in r] for r in rows]
w, h = tiles[0][0].size
cols = max(len(r) for r in tiles)
sheet = Image.new("RGB", (cols * (w + 4) - 4, len(tiles) * (h + 4) - 4), "white")
for y, r in enumerate(tiles):
    for x, im in enumerate(r):
        sheet.paste(im.resize((w, h)), (x * (w + 4), y * (h + 4)))
sheet.thumbnail((1600, 1600), Image.LANCZOS)
sheet.save(target, quality=88)
print("wrote", target)
PY
