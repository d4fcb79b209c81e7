"""Make a small captioned photo collection from pictures that ship with installed packages.

    python docs/make_collection.py collection/        # then: inceptionism train-dream collection/ -o mine.safetensors
    python docs/make_collection.py content/ --crops 12 --exclude astronaut coffee   # train-style's --data

Every picture of scikit-image's and scikit-learn's sample data, cut into random
crops, each saved with a caption written for its picture (a few of its words,
shuffled, with hashtags), as Instagram posts would come: ``collection/captions.csv``.
No download.
"""

from __future__ import annotations

import csv
import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image

#: picture -> what a person might write under it
CAPTIONS = {
    "chelsea": "my cat sleeping on the sofa whiskers fur #cat #pets #caturday",
    "coffee": "morning coffee cup espresso breakfast cafe #coffee #breakfast",
    "astronaut": "astronaut portrait space suit nasa flag #space #nasa",
    "rocket": "rocket launch pad nasa countdown #space #nasa #rocket",
    "hubble_deep_field": "galaxies deep space stars telescope night #space #astronomy",
    "moon": "full moon craters night sky telescope #astronomy #moon",
    "retina": "retina eye scan macro vessels #science #biology",
    "immunohistochemistry": "stained cells tissue microscope lab #science #biology",
    "cell": "cells microscope culture lab #science #biology",
    "brick": "old brick wall texture street #texture #architecture",
    "grass": "green grass lawn garden summer #nature #garden",
    "gravel": "gravel stones path garden #texture #nature",
    "coins": "old coins collection money silver #money #collection",
    "camera": "photographer camera tripod field #photography #camera",
    "horse": "horse silhouette stable riding #horse #animals",
    "sklearn:china": "temple roof china travel sky #travel #architecture",
    "sklearn:flower": "flower garden petals spring bloom #flowers #garden #nature",
}


def picture(name: str) -> np.ndarray:
    if name.startswith("sklearn:"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(name.split(":", 1)[1] + ".jpg")
    import skimage.data

    arr = np.asarray(getattr(skimage.data, name)())
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr[..., :3].astype(np.uint8)


def caption(text: str, rng: random.Random) -> str:
    words = [w for w in text.split() if not w.startswith("#")]
    tags = [w for w in text.split() if w.startswith("#")]
    return " ".join(rng.sample(words, k=min(len(words), rng.randint(3, 5))) + tags)


def main(out: Path, crops: int = 10, seed: int = 0, exclude: tuple[str, ...] = ()) -> None:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, text in CAPTIONS.items():
        if name.replace("sklearn:", "") in exclude:
            continue
        image = Image.fromarray(picture(name))
        w, h = image.size
        for i in range(crops):
            side = rng.randint(min(w, h) // 2, min(w, h))
            x, y = rng.randint(0, w - side), rng.randint(0, h - side)
            crop = image.crop((x, y, x + side, y + side)).resize((256, 256), Image.LANCZOS)
            file = f"{name.replace('sklearn:', '')}_{i:02d}.jpg"
            crop.save(out / file, quality=92)
            rows.append({"image": file, "caption": caption(text, rng)})
    with open(out / "captions.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "caption"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} images and {out / 'captions.csv'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="collection", type=Path)
    parser.add_argument("--crops", type=int, default=10, help="crops per picture (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exclude", nargs="*", default=(), help="pictures to leave out (e.g. held-out ones)")
    args = parser.parse_args()
    main(args.out, args.crops, args.seed, tuple(args.exclude))
