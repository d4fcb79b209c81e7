#!/usr/bin/env bash
# Rebuilds the README's "where you want it" gallery rows with the installed `inceptionism` (CPU):
# a masked dream (input, mask, dream), two layers in two regions, --lap-norm beside the default,
# regional styles (by optimisation and instantly), and --strength by norms and by fade.
#     bash docs/make_regions_gallery.sh ../shared/images docs/gallery
set -euo pipefail
images=${1:-../shared/images}
out=${2:-docs/gallery}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
# the masks: chelsea's face kept (an ellipse, black), and the tubingen photo's sky (top) and the rest
python - "$images/tubingen.jpg" "$tmp" "$out" <<'PY'
import sys
from PIL import Image, ImageDraw, ImageFilter
import skimage.data
tub, tmp, out = sys.argv[1], sys.argv[2], sys.argv[3]
cat = Image.fromarray(skimage.data.chelsea())
w, h = cat.size
face = Image.new("L", (w, h), 255)
ImageDraw.Draw(face).ellipse([95, 30, 360, 300], fill=0)
face.filter(ImageFilter.GaussianBlur(6)).save(f"{tmp}/face.png")
face.resize((w // 2, h // 2)).save(f"{out}/chelsea-mask.png")  # shown in the README
left = Image.new("L", (w, h), 0)
left.paste(255, (0, 0, w // 2, h))
left.save(f"{tmp}/left.png")
left.point(lambda v: 255 - v).save(f"{tmp}/right.png")
photo = Image.open(tub).convert("RGB")
photo.thumbnail((512, 512), Image.LANCZOS)
photo.save(f"{tmp}/tubingen.png")
pw, ph = photo.size
sky = Image.new("L", (pw, ph), 0)
sky.paste(255, (0, 0, pw, int(ph * 0.42)))
sky.save(f"{tmp}/sky.png")
ground = Image.new("L", (pw, ph), 255)
ground.paste(0, (0, 0, pw, int(ph * 0.42)))
ground.save(f"{tmp}/ground.png")
photo.save(f"{out}/tubingen-small.jpg", quality=85)
PY
d="inceptionism dream -q"
$d skimage:chelsea -o "$out/chelsea-masked.jpg" --mask "$tmp/face.png" --layer blocks.5 --steps 20
$d skimage:chelsea -o "$out/chelsea-two-layers.jpg" --layer blocks.5 --mask "$tmp/left.png" \
  --layer blocks.2 --mask "$tmp/right.png" --steps 15
$d skimage:chelsea -o "$out/chelsea-lapnorm.jpg" --lap-norm
inceptionism style "$tmp/tubingen.png" --style "$images/starry_night.jpg" --region "$tmp/sky.png" \
  --style "$images/woman-with-hat-matisse.jpg" --region "$tmp/ground.png" --size 512 -o "$out/tubingen-regions.jpg" -q
inceptionism stylize "$tmp/tubingen.png" --style "$images/starry_night.jpg" --region "$tmp/sky.png" \
  --style "$images/shipwreck.jpg" --region "$tmp/ground.png" -o "$out/tubingen-regions-instant.jpg" -q
inceptionism stylize "$tmp/tubingen.png" --style-index 0 --strength 0.5 -o "$out/strength-norms.jpg" -q
inceptionism stylize "$tmp/tubingen.png" --style-index 0 --strength 0.5 --strength-by fade -o "$out/strength-fade.jpg" -q
inceptionism stylize "$tmp/tubingen.png" --style-index 0 -o "$out/strength-full.jpg" -q
# shrink for the README (the recipe stays in each file's EXIF)
python - "$out" <<'PY'
import sys, pathlib
from PIL import Image
names = ("chelsea-masked", "chelsea-two-layers", "chelsea-lapnorm", "tubingen-regions", "tubingen-regions-instant",
         "strength-norms", "strength-fade", "strength-full", "tubingen-small")
for name in names:
    p = pathlib.Path(sys.argv[1]) / f"{name}.jpg"
    im = Image.open(p)
    exif = im.info.get("exif")
    im.thumbnail((300, 300))
    im.save(p, quality=85, **({"exif": exif} if exif else {}))
PY
