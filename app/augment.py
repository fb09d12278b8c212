"""Training data as serving will see it: distorted MNIST digits and typed digits, passed
through the same preprocessing as uploads (app.preprocess)."""

from __future__ import annotations

import glob
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage

from app.errors import NoDigitFound
from app.preprocess import INPUT_SIZE, prepare_gray

UPSCALE = 3  # distort at 84x84 so that rotations and stroke changes stay smooth
TRAINING_FONT_GLOBS = (  # typed digits for training; the evaluation kit uses other fonts
    "/usr/share/fonts/truetype/dejavu/DejaVu*.ttf",
    "/usr/share/fonts/opentype/urw-base35/*.otf",
)


def normalize(gray: np.ndarray) -> np.ndarray:
    """One image through the serving pipeline as a single digit -> the model's 28x28 input."""
    try:
        return prepare_gray(gray.astype(np.float32), single=True).batch[0, ..., 0]
    except NoDigitFound:  # a distortion can erase a faint digit; a blank is still a valid sample
        return np.zeros((INPUT_SIZE, INPUT_SIZE), dtype=np.float32)


def distort(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What real images do to a digit: slant, rotation, aspect, stroke width, blur, binarisation."""
    size = INPUT_SIZE * UPSCALE
    big = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC), dtype=np.float32)
    angle = np.deg2rad(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.3)
    sx, sy = rng.uniform(0.8, 1.15, size=2)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotate @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sy, sx])
    inverse = np.linalg.inv(matrix)
    centre = np.array([size / 2, size / 2])
    big = ndimage.affine_transform(big, inverse, offset=centre - inverse @ centre, order=1)
    stroke = rng.integers(-2, 6)  # negative thins, positive thickens (in 84 px units)
    if stroke > 0:
        big = ndimage.grey_dilation(big, size=(stroke + 1, stroke + 1))
    elif stroke < 0:
        big = ndimage.grey_erosion(big, size=(1 - stroke, 1 - stroke))
    if rng.random() < 0.5:
        big = ndimage.gaussian_filter(big, rng.uniform(0.5, 3.0))
    if rng.random() < 0.3:
        big = np.where(big >= rng.uniform(60, 160), 255.0, 0.0)
    return np.clip(big, 0, 255)


def typed_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits rendered in the training fonts found on this machine (none found -> empty)."""
    fonts = sorted(f for pattern in TRAINING_FONT_GLOBS for f in glob.glob(pattern))
    if not fonts:
        return np.zeros((0, 84, 84), np.uint8), np.zeros((0,), np.uint8)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(count):
        label = i % 10
        font = ImageFont.truetype(fonts[rng.integers(len(fonts))], int(rng.integers(48, 72)))
        canvas = Image.new("L", (84, 84), 0)
        ImageDraw.Draw(canvas).text((42, 42), str(label), fill=255, font=font, anchor="mm")
        if rng.random() < 0.5:
            canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
        images.append(np.asarray(canvas))
        labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.uint8)


def _variant(args: tuple[np.ndarray, int, bool]) -> np.ndarray:
    images, seed, clean = args
    rng = np.random.default_rng(seed)
    return np.stack([normalize(img if clean else distort(img, rng)) for img in images])


def build_pool(images: list[np.ndarray], copies: int, seed: int, workers: int | None = None) -> np.ndarray:
    """(copies + 1, n, 28, 28) model inputs: the clean digits normalised, then `copies` distorted variants."""
    workers = workers or os.cpu_count() or 1
    step = -(-len(images) // (workers * 4))
    chunks = [images[i:i + step] for i in range(0, len(images), step)]
    jobs = [(chunk, seed * 1000 + copy * 100 + i, copy == 0)
            for copy in range(copies + 1) for i, chunk in enumerate(chunks)]
    # spawn, not fork: the parent may already hold TensorFlow's threads.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_variant, jobs))
    per_copy = len(chunks)
    return np.stack([np.concatenate(parts[c * per_copy:(c + 1) * per_copy]) for c in range(copies + 1)])
