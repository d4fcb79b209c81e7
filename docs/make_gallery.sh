#!/usr/bin/env bash
# Rebuilds the README gallery with the installed `inceptionism` command (embedded model, CPU).
set -euo pipefail
out=${1:-docs/gallery}
mkdir -p "$out"
d="inceptionism dream -q"
$d skimage:chelsea -o "$out/chelsea-default.jpg"
$d skimage:chelsea -o "$out/chelsea-blocks2.jpg" --layer blocks.2
$d skimage:chelsea -o "$out/chelsea-blocks5.jpg" --layer blocks.5 --step-size 0.015
$d skimage:chelsea -o "$out/chelsea-channel.jpg" --layer blocks.4:17 --steps 20
$d skimage:chelsea -o "$out/chelsea-guided.jpg" --guide skimage:coffee --layer blocks.5 --steps 20
$d skimage:chelsea -o "$out/chelsea-colors.jpg" --preserve-colors
$d skimage:astronaut -o "$out/astronaut-mix.jpg" --layer blocks.3=0.5 --layer blocks.5 --octaves 5
$d --noise 400x300 -o "$out/noise-espresso.jpg" --class espresso --steps 30 --octaves 5
# shrink for the README (the recipe stays in each file's EXIF)
python - "$out" <<'PY'
import sys, pathlib
from PIL import Image
for p in pathlib.Path(sys.argv[1]).glob("*.jpg"):
    im = Image.open(p)
    exif = im.info.get("exif")
    im.thumbnail((300, 300))
    im.save(p, quality=85, exif=exif)
PY
