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
# Share of distorted digits redrawn with an even pen line: MNIST's strokes swell and taper like a felt tip's,
# while a browser canvas or a ballpoint draws one width all along.
PEN_SHARE = 0.5
PEN_CUTS = (64, 100, 140, 180)  # ink levels (0-255) tried for the pen's centre line
TRAINING_FONT_GLOBS = (  # typed digits for training; the evaluation kit uses other fonts
    "/usr/share/fonts/truetype/dejavu/DejaVu*.ttf",
    "/usr/share/fonts/opentype/urw-base35/*.otf",
)
# Shares of the training 1s drawn again with a flag, and of the 7s with a bar across the stem (other_hands);
# the flag's angle off the stem (degrees) and its length (share of the digit's height).
FLAGGED_ONES = 0.3
CROSSED_SEVENS = 0.3
FLAG_TURN = (20, 40)
FLAG_LENGTH = (0.25, 0.45)
# Fonts whose digit characters are not digits: URW's Dingbats draws pencils, check marks and crosses there.
NOT_DIGIT_FONTS = ("D050000L",)


def normalize(gray: np.ndarray) -> np.ndarray:
    """One image through the serving pipeline as a single digit -> the model's 28x28 input (as a small
    upload: with a margin of its own paper, see app.preprocess.with_margin)."""
    try:
        return prepare_gray(gray.astype(np.float32), single=True, margin=True).batch[0, ..., 0]
    except NoDigitFound:  # a distortion can erase a faint digit; a blank is still a valid sample
        return np.zeros((INPUT_SIZE, INPUT_SIZE), dtype=np.float32)


def distort(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What real images do to a digit: slant, rotation, aspect, stroke width or a pen's even line, blur,
    binarisation."""
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
    if rng.random() < PEN_SHARE:
        big = restroke(big, rng.uniform(2.5, 12.0))
    else:
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


def restroke(big: np.ndarray, width: float) -> np.ndarray:
    """The digit (0-255) drawn again along its centre line with a round pen `width` px wide."""
    # The lowest cut keeps faint strokes joined; a thick digit needs a higher one, or its loops fill in
    # and thin to a line (a 9 would become a 1): take the lowest cut that keeps the most of its loops.
    loops = holes(big >= 128)
    kept = [min(loops, holes(big > cut)) for cut in PEN_CUTS]
    spine = thin(big > PEN_CUTS[kept.index(max(kept))])
    if not spine.any():
        return big
    return 255.0 * np.clip(width / 2 - ndimage.distance_transform_edt(~spine) + 0.5, 0.0, 1.0)


def holes(mask: np.ndarray) -> int:
    """Closed loops in a shape: background regions that do not reach the border."""
    return ndimage.label(~np.pad(mask, 1))[1] - 1


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: the one-pixel centre line of a shape."""
    img = np.pad(mask, 1).astype(np.uint8)
    for _ in range(max(mask.shape)):  # each pass peels one layer, so this bound is never reached
        removed = 0
        for step in (0, 1):
            c = img[1:-1, 1:-1]
            p = [img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:], img[2:, 2:],  # n, ne, e, se
                 img[2:, 1:-1], img[2:, :-2], img[1:-1, :-2], img[:-2, :-2]]  # s, sw, w, nw
            count = sum(q.astype(np.int32) for q in p)
            turns = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            n, e, s, w = p[0], p[2], p[4], p[6]
            sides = (n * e * s == 0) & (e * s * w == 0) if step == 0 else (n * e * w == 0) & (n * s * w == 0)
            drop = (c == 1) & (count >= 2) & (count <= 6) & (turns == 1) & sides
            c[drop] = 0
            removed += int(drop.sum())
        if not removed:
            break
    return img[1:-1, 1:-1].astype(bool)


def training_fonts() -> list[str]:
    """The font files typed training digits are drawn in, found on this machine."""
    return sorted(f for pattern in TRAINING_FONT_GLOBS for f in glob.glob(pattern)
                  if not any(name in f for name in NOT_DIGIT_FONTS))


def typed_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits rendered in the training fonts found on this machine (none found -> empty)."""
    fonts = training_fonts()
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


def other_hands(images: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits as many writers outside the US draw them, which MNIST barely has: a 1 with a flag (an upstroke
    to the top of its stem, close to it) and a 7 with a bar across its stem. Made from FLAGGED_ONES of the
    training 1s and CROSSED_SEVENS of the 7s, at 84x84 px, in each digit's own stroke width."""
    rng = np.random.default_rng(seed)
    out, out_labels = [], []
    for image, label in zip(images, labels, strict=True):
        share = FLAGGED_ONES if label == 1 else CROSSED_SEVENS if label == 7 else 0.0
        if not share or rng.random() >= share:
            continue
        big = Image.fromarray(image).resize((INPUT_SIZE * UPSCALE,) * 2, Image.BICUBIC)
        mask = np.asarray(big) >= 128
        if not mask.any():
            continue
        rows, cols = np.nonzero(mask)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        pen = max(3, round(1.6 * ndimage.distance_transform_edt(mask).max()))
        if label == 1:  # from the top of the stem, down and to its left, FLAG_TURN off the stem
            points = np.stack([cols, rows], axis=1).astype(np.float64)
            _, vectors = np.linalg.eigh(np.cov(points - points.mean(axis=0), rowvar=False))
            down = vectors[:, -1] if vectors[1, -1] > 0 else -vectors[:, -1]  # along the stem, downwards
            x, y = points[np.argmin(points @ down)] + down * pen / 2
            turn = np.deg2rad(rng.uniform(*FLAG_TURN))
            flag = np.array([down[0] * np.cos(turn) - down[1] * np.sin(turn),
                             down[0] * np.sin(turn) + down[1] * np.cos(turn)])
            length = rng.uniform(*FLAG_LENGTH) * height
            line = [(x, y), (x + length * flag[0], y + length * flag[1])]
        else:  # across the stem, a little below the middle
            y = int(rows.min() + rng.uniform(0.45, 0.6) * height)
            across = cols[rows == y]
            if not len(across):
                continue
            x, half = float(across.mean()), rng.uniform(0.18, 0.25) * width
            line = [(x - half, y), (x + half, y)]
        ImageDraw.Draw(big).line(line, fill=255, width=pen)
        out.append(np.asarray(big))
        out_labels.append(label)
    if not out:
        return np.zeros((0, INPUT_SIZE * UPSCALE, INPUT_SIZE * UPSCALE), np.uint8), np.zeros((0,), np.uint8)
    return np.stack(out), np.array(out_labels, dtype=np.uint8)


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
