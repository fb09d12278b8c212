"""Make the three benchmark images in bench/images/ from MNIST *test* digits (run once; the images are kept).

    python -m bench.make_images /path/to/mnist.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

IMAGES = Path(__file__).parent / "images"
SINGLE = 0  # x_test[0] is a 7
ROW = (1, 2, 3, 4, 8)  # x_test: 2 1 0 4 5
SEED = 20261123


def digit_png(digits: np.ndarray) -> Image.Image:
    """An MNIST test digit as it is: 28x28, white ink on black."""
    return Image.fromarray(digits[SINGLE], "L")


def phone_jpeg(digits: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 600x600 'photo' of the digit written on paper: off-white, unevenly lit, noisy, slightly soft."""
    ink = Image.fromarray(digits[SINGLE], "L").resize((330, 330), Image.BICUBIC)
    ink = np.asarray(ink.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32) / 255.0
    ys, xs = np.mgrid[0:600, 0:600].astype(np.float32) / 600.0
    light = 0.78 + 0.16 * xs - 0.10 * ys + 0.04 * np.sin(3.0 * ys)  # a lamp on one side, a shadow below
    paper = np.stack([light * 238, light * 232, light * 218], axis=-1)  # warm, slightly yellow paper
    paper += rng.normal(0.0, 4.0, paper.shape)  # sensor noise
    strokes = np.zeros((600, 600), dtype=np.float32)
    strokes[140:470, 120:450] = ink  # off-centre, as people hold phones
    pen = np.array([40.0, 45.0, 70.0])  # blue-black ballpoint
    photo = paper * (1.0 - strokes[..., None] * 0.85) + pen * strokes[..., None] * 0.85
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")


def digit_row(digits: np.ndarray) -> Image.Image:
    """Five test digits side by side, dark on white, at three times MNIST's size (a drawn number)."""
    row = np.zeros((28, 28 * len(ROW) + 8 * (len(ROW) - 1)), dtype=np.uint8)
    for slot, index in enumerate(ROW):
        row[:, slot * 36:slot * 36 + 28] = np.maximum(row[:, slot * 36:slot * 36 + 28], digits[index])
    image = Image.fromarray(255 - row, "L")
    return image.resize((image.width * 3, image.height * 3), Image.BILINEAR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", type=Path, help="MNIST in Keras' npz layout")
    args = parser.parse_args()
    with np.load(args.mnist) as data:
        digits, labels = data["x_test"], data["y_test"]
    IMAGES.mkdir(exist_ok=True)
    digit_png(digits).save(IMAGES / "digit_28.png", optimize=True)
    phone_jpeg(digits, np.random.default_rng(SEED)).save(IMAGES / "photo_600.jpg", quality=88)
    digit_row(digits).save(IMAGES / "row_5.png", optimize=True)
    print("digit_28.png:", labels[SINGLE], " photo_600.jpg:", labels[SINGLE],
          " row_5.png:", "".join(str(labels[i]) for i in ROW))


if __name__ == "__main__":
    main()
