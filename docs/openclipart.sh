#!/usr/bin/env bash
# A real collection nobody here made: Debian's openclipart-png (public domain drawings in category folders).
# Trains a folder model and a captions model on six categories and draws what each learned, as atlases.
#
#   bash docs/openclipart.sh [WORK_DIR]        # default: ./openclipart-work (the drawings stay there, never committed)
#
# Writes docs/gallery/clip-classes.png and docs/gallery/clip-topics.png (the README shows them) and prints
# each run's training time and held-out figure. About 20 minutes on two CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-openclipart-work}
CATEGORIES="animals buildings food people plants transportation"
EPOCHS=${EPOCHS:-4}
SIZE=${SIZE:-160}
STEPS=${STEPS:-256}
mkdir -p "$WORK"

# 1. the drawings: Debian's package, unpacked (130 MB)
if [ ! -d "$WORK/x/usr/share/openclipart/png" ]; then
  (cd "$WORK" && apt-get download openclipart-png && dpkg-deb -x openclipart-png_*.deb x)
fi
PNG="$WORK/x/usr/share/openclipart/png"

# 2. the folder collection: one link per category (class folders may be links)
rm -rf "$WORK/clip" && mkdir -p "$WORK/clip"
for c in $CATEGORIES; do ln -s "$(cd "$PNG/$c" && pwd)" "$WORK/clip/$c"; done

# 3. the captions collection: each drawing's folder and file-name words are its only caption
python - "$PNG" "$WORK/captions.csv" $CATEGORIES <<'EOF'
import csv, os, re, sys
png, out, categories = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = []
for category in categories:
    for folder, _, files in os.walk(os.path.join(png, category), followlinks=True):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if not name.endswith(".png") or not os.path.isfile(path):
                continue  # the package has a few links to files it does not ship
            parts = os.path.relpath(folder, png).split(os.sep) + [os.path.splitext(name)[0]]
            words = [w for w in re.split(r"[^a-z]+", " ".join(parts).lower()) if len(w) > 2]
            rows.append({"image": os.path.abspath(path), "caption": " ".join(words)})
with open(out, "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, ["image", "caption"])
    writer.writeheader()
    writer.writerows(rows)
print(f"{len(rows)} captioned drawings in {out}")
EOF

# 4. train both (progress bars on stderr; the closing line has the held-out figure)
train() {
  local name=$1; shift
  local start; start=$(date +%s)
  inceptionism train-dream "$@" -o "$WORK/clip-$name.safetensors" --epochs "$EPOCHS" --image-size "$SIZE" 2>&1 \
    | tr '\r' '\n' | tail -n 1
  echo "train-dream ($name): $(( $(date +%s) - start )) s on $(nproc) cores"
}
[ -f "$WORK/clip-folders.safetensors" ] || train folders "$WORK/clip"
[ -f "$WORK/clip-captions.safetensors" ] || train captions "$WORK/captions.csv" --topics 8

# 5. what each learned, drawn from nothing
inceptionism visualize --weights "$WORK/clip-folders.safetensors" --atlas classes --size 224 --steps "$STEPS" \
  --columns 3 -o "$WORK/clip-classes.png" --resume
inceptionism visualize --weights "$WORK/clip-captions.safetensors" --atlas topics --size 224 --steps "$STEPS" \
  --columns 4 -o "$WORK/clip-topics.png" --resume
mkdir -p docs/gallery
python - "$WORK" <<'EOF'
import sys
from PIL import Image
work = sys.argv[1]
for name in ("clip-classes", "clip-topics"):
    Image.open(f"{work}/{name}.png").convert("RGB").save(f"docs/gallery/{name}.jpg", quality=88)
    print(f"docs/gallery/{name}.jpg")
EOF
