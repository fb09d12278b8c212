"""Image in, model input out: the one preprocessing path for training, serving and the CLI.

Steps: decode safely -> grey levels (EXIF orientation, first frame, transparency as paper)
-> ink image (polarity, background, contrast, threshold) -> digits (segment.py)
-> each digit normalised like MNIST (crop, longest side 20 px, centre of mass at the centre).
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from app.errors import NoDigitFound, NotAnImage, UploadTooLarge
from app.segment import (
    Digit,
    eroded,
    find_digits,
    runs,
    split_candidates,
    touches_border,
    turned_box_area,
    without_shadows,
    without_surroundings,
)

INPUT_SIZE = 28  # the model's input is INPUT_SIZE x INPUT_SIZE x 1
BOX_SIZE = 20  # MNIST fits each digit's longest side into 20 px
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "AVIF")
FORMAT_NAMES = "PNG, JPEG, GIF, BMP, WebP, TIFF, AVIF or HEIC"
# HEIF brands (an iPhone's photos are "heic"): Pillow reads them through the pillow-heif plugin, registered
# the first time such a file arrives, so a process that never sees one does not load libheif.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
WORK_SIZE = 320  # larger uploads are reduced to about this before the pixel work
# A large upload is first read at a coarser size, its shorter side down to about COARSE_SIDE: a quarter of the
# pixel work. That reading stands when every digit found is at least SHARP_DIGIT px long there (twice the
# model's 20 px); otherwise (small digits on a large page) the image is read again at WORK_SIZE.
COARSE_SIDE = 128
SHARP_DIGIT = 40
MIN_SIDE = 3  # an image read at fewer pixels than this on a side (a line of pixels) holds no digit
MIN_CONTRAST = 24.0  # ink must differ from the paper by this much (0-255) to count
# An image with transparency whose opaque pixels beside the transparent ones are this much lighter (darker)
# on average than the other opaque pixels had light (dark) paper cut out (see _paper_under).
EDGE_SHADE = 32.0
# Shading is not ink: on a blank page, a dark corner the background estimate does not follow can be as strong
# as faint ink, but it rises over tens of pixels, where even a blurred stroke's edge rises over a few. Ink
# whose steepest step between neighbouring pixels (of 3x3 means) is under EDGE_SHARE of its strength is none.
# Measured: real ink 0.12 and up (heavily blurred training digits; the kit's photos 0.22), blank pages'
# shading 0.09 and under.
EDGE_SHARE = 0.1
# ... unless it is STRONG_INK or more from the paper (0-255): a pen's or a pencil's, where shading on a blank
# page is 90 at most (soft shadows 15-35% darker than the paper, unevenly lit pages). An out-of-focus photo
# blurs a digit's edges over tens of pixels too, and keeps its contrast. The same ink is never taken for a
# soft shadow (segment.without_shadows).
STRONG_INK = 100.0
# ... unless the image is clean: CLEAN_FLAT of its pixels within CLEAN_NEAR grey levels of its commonest
# level (the paper) are exactly at it, where a photo's paper has noise (0.7 and under for noise of half a
# grey level). A small digit enlarged smoothly on a computer (28 px to 300 px: edges rising over 15 px) has
# soft edges and no shading: 0.93.
CLEAN_NEAR = 3
CLEAN_FLAT = 0.75
DEFAULT_THRESHOLD = 75
MAX_THRESHOLD = 150  # noise never raises the threshold past this: the strokes' cores stay ink
# An upload no bigger than about the model's own input (MNIST-style 28x28, USPS 16x16) and about square holds
# one digit: its pieces (a 5's floating bar, a 1's stray serif) are never separate digits.
ONE_DIGIT_SIDE = 32
ONE_DIGIT_ASPECT = 1.25
# A digit shorter than ZOOM_DIGIT px at the work size (a normal handwritten digit on a page scanned at 300 dpi
# is 5 px there) is read again from a crop of the upload around the ink, at least ZOOM_GAIN times closer.
ZOOM_DIGIT = 20
ZOOM_GAIN = 2
# The crop is read at up to ZOOM_SIZE px on its longest side (a row of ten small digits on a phone photo is
# wide: at WORK_SIZE they stayed too small to read, or the crop was hardly closer than the page).
ZOOM_SIZE = 480
# A clean image (HAIRLINE_FLAT of it or more exactly the paper's grey level: drawn, not photographed or
# scanned) where nothing was found is read again with its hairline strokes kept (see _read_hairlines).
# Measured: drawings 0.99 and more, a noisy page saved as a JPEG at quality 40 (its noise smoothed away) 0.58.
HAIRLINE_FLAT = 0.9
# An upload no larger than MARGIN_UP_TO px gets a margin of MARGIN of its longest side of its own paper, as
# does a larger one cut close around dark ink (see cut_close): its border is lighter than its median by
# CLOSE_CUT_CONTRAST of its range of grey levels, along CLOSE_CUT_BORDER of the border or more.
MARGIN_UP_TO = 160
MARGIN = 0.5
CLOSE_CUT_CONTRAST = 0.25
CLOSE_CUT_BORDER = 0.6
# Light strokes cut close (light on dark) look like a light page on a darker desk by the same measure, so
# they must also look like strokes (see _light_strokes_cut_close): light covering at most CLOSE_CUT_LIGHT of
# the image (a digit cropped to its ink: 0.70 at most in 400 MNIST digits; a page on a desk filling the
# photo: 0.75 and more), reaching three sides or two opposite ones (within CLOSE_CUT_SIDE of the longest
# side: a crop to the ink half covers its outer pixels), each in CLOSE_CUT_RUNS runs or fewer, none longer
# than CLOSE_CUT_RUN of the side; and eroded away but for under CLOSE_CUT_CORE of it by CLOSE_CUT_ERODE px
# on a ~64 px sample (strokes up to a quarter of the image wide; the sides stop no erosion), after gaps in
# it of up to 2 CLOSE_CUT_CLOSING px are closed (a page's ruled lines do not cut it into strips).
CLOSE_CUT_LIGHT = 0.72
CLOSE_CUT_SIDE = 0.01
CLOSE_CUT_RUNS = 3
CLOSE_CUT_RUN = 0.7
CLOSE_CUT_CORE = 0.4
CLOSE_CUT_ERODE = 8
CLOSE_CUT_CLOSING = 2
# A light page on a darker desk that covers most of the photo (see light_page): a piece of "ink" at least
# PAGE_SIDE of the image's shorter side both ways, filling PAGE_FILL or more of the smallest box around it at
# any angle (a page turned on the desk; PAGE_UPRIGHT_FILL of its upright box, as a square or 4:3 page turned
# 45 degrees does), its outline with what is written on it filled in a rectangle (PAGE_SQUARE of that box:
# a bold digit's outline is round or ragged), with writing inside it (dark holes of PAGE_INK of its area or
# more) made of strokes: their mean width under PAGE_STROKE of their extent, where the loops of a bold light
# digit are round or slits of their own.
PAGE_SIDE = 0.25
PAGE_FILL = 0.7
PAGE_INK = 0.02
PAGE_STROKE = 0.25
PAGE_UPRIGHT_FILL = 0.45
PAGE_SQUARE = 0.85
# The paper's level under uneven light (see _background) is estimated on a grid of BACKGROUND_BLOCKS blocks a
# side: a block's level is the grey level PAPER_SHARE of its pixels are at or below (ink bright), so a block
# with that much paper reads as paper; then blocks within OPENING blocks of one that reads as paper are
# brought down to it (a grey opening), so ink as wide as 2 OPENING blocks, a marker's stroke across a tight
# crop, does not count as background. In a clean image (drawn or typed, its paper flat), the opening also
# reaches OPENING blocks beyond the sides, where there is paper: a wider bar along a side stays ink.
BACKGROUND_BLOCKS = 16
PAPER_SHARE = 0.25
OPENING = 2
# An image under TINY_SIDE px a side (an 8x8 or 16x16 digit), or one enlarged from such an image with square
# pixels, is enlarged smoothly to about TINY_TARGET px before the pixel work: at its own size each pixel is a
# step in a stroke's edge, and the ink's mask and the digit's 20 px would be made of those steps.
TINY_SIDE = 24
TINY_TARGET = 64
MIN_BLOCKS = 6  # such an image is at least this many blocks a side (a bar or a square alone is not one)


def scale_to_unit(pixels: np.ndarray) -> np.ndarray:
    """The model's input scaling, 0-255 -> 0-1; defined once, used by training and serving."""
    return np.asarray(pixels, dtype=np.float32) / 255.0


@dataclass(frozen=True)
class Prepared:
    """What the model needs for one image, and where each digit was found."""

    batch: np.ndarray  # (n, 28, 28, 1) float32 in 0..1
    boxes: list[tuple[int, int, int, int]]  # x, y, w, h in the uploaded (oriented) image
    size: tuple[int, int]  # width, height of the uploaded (oriented) image
    # Touching digits: digit i's ink may also read as two to four digits. Each such reading is a list of
    # rows of `parts` (model inputs, as in `batch`) and of `part_boxes`; the model's answers pick one. A part
    # that several readings share is one row.
    splits: dict[int, list[list[int]]] = field(default_factory=dict)
    parts: np.ndarray = field(default_factory=lambda: np.zeros((0, INPUT_SIZE, INPUT_SIZE, 1), np.float32))
    part_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


def prepare(data: bytes, *, threshold: int = DEFAULT_THRESHOLD, single: bool = False,
            max_pixels: int = 40_000_000, max_digits: int = 32) -> Prepared:
    """Decode an uploaded file and return the model input for every digit in it."""
    image = decode(data, max_pixels=max_pixels, coarse=True)
    size = image.info["original_size"]
    single = single or holds_one_digit(*size)
    options = {"threshold": threshold, "single": single, "max_digits": max_digits, "size": size,
               "margin": max(size) <= MARGIN_UP_TO}
    coarse, fine = coarse_reduction(*size), reduction(*size)
    if coarse > fine:
        gray, scale = to_gray(image, coarse)
        try:
            prepared = prepare_gray(gray, scale=scale, **options)
        except NoDigitFound:  # a small or faint digit may show only at the finer size
            prepared = None
        if prepared is not None and min(max(w, h) for _, _, w, h in prepared.boxes) >= SHARP_DIGIT * scale:
            return prepared
        if max(image.size) < max(size):  # a JPEG decoded at the coarse size: decode it again, larger
            image = decode(data, max_pixels=max_pixels)
    gray, scale = to_gray(image, fine)
    try:
        prepared = prepare_gray(gray, scale=scale, **options)
    except NoDigitFound:  # on a large scan, a digit of normal size may be too small to see at this size
        prepared = None
    smallest = min((max(w, h) for _, _, w, h in prepared.boxes), default=0) if prepared else 0
    if scale > 1 and smallest < ZOOM_DIGIT * scale:
        closer = _read_closer(data, image, gray, scale, max_pixels=max_pixels,
                              around=prepared.boxes if prepared else None, **options)
        # The region is around the digits the first reading found (or the main ink, if it found none); it
        # stays if it finds as many.
        if closer is not None and (prepared is None or len(closer.boxes) >= len(prepared.boxes)):
            return closer
    if prepared is None and fine > 1:
        prepared = _read_hairlines(data, image, fine, max_pixels=max_pixels, **options)
    if prepared is None:
        raise NoDigitFound()
    return prepared


def _read_hairlines(data: bytes, image: Image.Image, factor: int, *, max_pixels: int, size: tuple[int, int],
                    **options) -> Prepared | None:
    """A large drawing with hairline strokes (a 1 px pen on a 2,000 px canvas), where nothing was found:
    reduced to the work size by averaging, its strokes fade below MIN_CONTRAST. If the image is clean (its
    paper has no noise: drawn, not photographed), read it reduced by `factor` keeping each block's pixel
    furthest from the paper, so a line one pixel wide stays whole. None when there is nothing to read."""
    pixels = np.asarray(gray_image(image))
    sample = _sample(pixels).astype(np.float32)
    paper = median(sample)
    if np.count_nonzero(np.abs(sample - paper) < 0.5) < HAIRLINE_FLAT * sample.size:
        return None  # a photo or a scan: its noise, not only its ink, would be kept
    if max(image.size) < max(size):  # flat at a reduced size (a JPEG's draft): now decode it in full
        pixels = np.asarray(gray_image(decode(data, max_pixels=max_pixels, full=True)))
    dark_ink = paper - float(pixels.min()) > float(pixels.max()) - paper
    rows, cols = pixels.shape[0] // factor, pixels.shape[1] // factor
    blocks = pixels[:rows * factor, :cols * factor].reshape(rows, factor, cols, factor)
    pooled = blocks.min(axis=(1, 3)) if dark_ink else blocks.max(axis=(1, 3))
    try:
        return prepare_gray(pooled.astype(np.float32), scale=float(factor), size=size, **options)
    except NoDigitFound:
        return None


def _read_closer(data: bytes, image: Image.Image, gray: np.ndarray, scale: float, *, max_pixels: int,
                 threshold: int, size: tuple[int, int], around: list[tuple[int, int, int, int]] | None = None,
                 **options) -> Prepared | None:
    """Small digits on a large page (a sheet scanned at 300 dpi): read the region around the digits found
    (`around`, boxes in the upload's pixels) or, if none were, around the main ink, cut from the upload at a
    finer size. None when there is no such region, or no finer size to read it at."""
    seed = None
    if around:  # with the ink beside them: the first reading may have found only a row's largest digits
        x0, y0 = min(x for x, _, _, _ in around), min(y for _, y, _, _ in around)
        x1, y1 = max(x + w for x, _, w, _ in around), max(y + h for _, y, _, h in around)
        seed = (y0 / scale, y1 / scale, x0 / scale, x1 / scale)
    region = ink_region(gray, threshold, seed=seed)
    if region is None:
        return None
    region = tuple(v * scale for v in region)
    x0, y0, x1, y1 = (min(max(int(v), 0), limit) for v, limit in zip(region, size + size, strict=True))
    if max(image.size) < max(size):  # a JPEG decoded at a reduced size: decode it in full
        image = decode(data, max_pixels=max_pixels, full=True)
    crop = image.crop((x0, y0, x1, y1))
    crop.info.pop("original_size", None)  # crop() copies the upload's info: this is a new, smaller image
    factor = reduction(*crop.size, size=ZOOM_SIZE)
    if factor * ZOOM_GAIN > scale:
        return None  # hardly closer than the first reading
    closer, closer_scale = to_gray(crop, factor)
    try:
        return prepare_gray(closer, scale=closer_scale, origin=(x0, y0), threshold=threshold, size=size,
                            **options)
    except NoDigitFound:
        return None


def ink_region(gray: np.ndarray, threshold: int = DEFAULT_THRESHOLD,
               seed: tuple[float, float, float, float] | None = None) -> tuple[int, int, int, int] | None:
    """The box (x0, y0, x1, y1) around the main ink of a grey-level image: the piece with the most ink (or the
    box `seed`, as (y0, y1, x0, x1)), and every piece with a tenth as much or more near it (within the box's
    size, as the digits of a row are); with a margin of half its size. None if there is no ink."""
    if min(gray.shape) < MIN_SIDE:
        return None
    try:
        ink = ink_image(gray)
    except NoDigitFound:
        return None
    mask = without_surroundings(ink >= ink_threshold(ink, threshold))
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if not count and seed is None:
        return None
    mass = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    spans = [(r.start, r.stop, c.start, c.stop) for r, c in ndimage.find_objects(labels)]
    pieces = [span for span, weight in zip(spans, mass, strict=True) if weight >= 0.1 * mass.max()]
    if seed is None:
        y0, y1, x0, x1 = spans[int(np.argmax(mass))]
    else:
        y0, y1, x0, x1 = int(seed[0]), int(np.ceil(seed[1])), int(seed[2]), int(np.ceil(seed[3]))
    while True:
        reach = max(y1 - y0, x1 - x0)
        near = [(a, b, c, d) for a, b, c, d in pieces
                if a < y1 + reach and b > y0 - reach and c < x1 + reach and d > x0 - reach]
        if not near:  # a seed with no ink near it
            break
        grown = (min(y0, *(p[0] for p in near)), max(y1, *(p[1] for p in near)),
                 min(x0, *(p[2] for p in near)), max(x1, *(p[3] for p in near)))
        if grown == (y0, y1, x0, x1):
            break
        y0, y1, x0, x1 = grown
    margin = max(2, max(y1 - y0, x1 - x0) // 2)
    height, width = gray.shape
    return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)


def coarse_reduction(width: int, height: int) -> int:
    """The whole factor that brings the shorter side to COARSE_SIDE or above, and the longer to WORK_SIZE or
    below: 600x600 -> 4 (150 px), 4032x3024 -> 23 (175x131 px), 516x84 -> 2 (as reduction)."""
    return max(reduction(width, height), min(width, height) // COARSE_SIDE)


def holds_one_digit(width: int, height: int) -> bool:
    """Whether an image is too small and too square to hold more than one digit."""
    longest, shortest = max(width, height), min(width, height)
    return longest <= ONE_DIGIT_SIDE and longest <= ONE_DIGIT_ASPECT * shortest


def prepare_gray(gray: np.ndarray, *, threshold: int = DEFAULT_THRESHOLD, single: bool = False,
                 max_digits: int = 32, scale: float = 1.0, origin: tuple[float, float] = (0, 0),
                 size: tuple[int, int] | None = None, margin: bool = False, pages: bool = True) -> Prepared:
    """The pipeline from a grey-level array (0-255, any polarity) to model input. Boxes are given in the
    upload's pixels: `scale` of them to a pixel of `gray`, whose corner is at `origin`. `margin`: the image
    is a small upload, maybe cropped tight to its digit (see with_margin); a larger one gets the margin too
    when it looks cut close around dark ink (see cut_close). `pages`: a light page on a darker desk that
    covers most of the photo is found and read on its own (see light_page)."""
    if min(gray.shape) < MIN_SIDE:
        raise NoDigitFound()
    gray, pad = with_margin(gray) if margin or cut_close(gray) else (gray, 0)
    ink, strength = _ink_and_strength(gray)
    mask = ink >= ink_threshold(ink, threshold)
    page = light_page(gray, mask) if pages and not pad else None
    if page is not None:
        (x, y, w, h), cut = page
        return prepare_gray(cut, threshold=threshold, single=single, max_digits=max_digits,
                            scale=scale, origin=(origin[0] + x * scale, origin[1] + y * scale),
                            size=size or (gray.shape[1], gray.shape[0]), pages=False)
    if touches_border(mask) and not _clean(gray):  # a clean image (no photo) has no shadow
        mask = without_shadows(mask, ink, strong=255.0 * STRONG_INK / strength)
    digits = find_digits(mask, single=single, ink=ink)
    if not digits:
        raise NoDigitFound()
    digits = digits[:max_digits]
    if pad:  # boxes in the upload's pixels, within it
        origin = (origin[0] - pad * scale, origin[1] - pad * scale)
        digits = [_within(d, pad, gray.shape) for d in digits]
    batch = np.stack([normalize_digit(ink, d) for d in digits])[..., None]
    boxes = [_scale_box(d.box, scale, origin) for d in digits]
    if size is None:
        size = (gray.shape[1], gray.shape[0])
    splits, parts, part_boxes = {}, [], []
    for index, digit in enumerate(digits if not single else ()):
        rows_of: dict[tuple[int, int, int, int], int] = {}  # a part that several ways share is read once
        for way in split_candidates(digit):
            for part in way:
                if part.box not in rows_of:
                    rows_of[part.box] = len(parts)
                    parts.append(normalize_digit(ink, part))
                    part_boxes.append(_scale_box(part.box, scale, origin))
            splits.setdefault(index, []).append([rows_of[part.box] for part in way])
    extra = {"splits": splits, "parts": scale_to_unit(np.stack(parts)[..., None]), "part_boxes": part_boxes} \
        if parts else {}
    return Prepared(batch=scale_to_unit(batch), boxes=boxes, size=size, **extra)


def light_page(gray: np.ndarray, mask: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """A light page (a sticky note, an index card) on a darker desk that covers most of the photo: its box
    (x, y, w, h) and its grey levels cut out along its outline (the desk at a turned page's corners painted
    the page's own level), or None. The desk is then the image's median, so the page was taken for light
    ink: one solid piece of the mask, large both ways and filling most of the smallest box around it at any
    angle (see PAGE_SIDE, PAGE_FILL), lighter than the image's median, with pen strokes inside it (what is
    written on it), where a bold light digit has round holes or slits."""
    if np.count_nonzero(mask) < PAGE_FILL * (PAGE_SIDE * min(mask.shape)) ** 2:  # most images stop here
        return None
    sample, marked = _sample(gray), _sample(mask)
    if not marked.any() or sample[marked].mean() <= sample.mean():  # dark ink: the rest stop here
        return None
    middle = median(sample)
    labels, count = ndimage.label(mask)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if min(w, h) < PAGE_SIDE * min(mask.shape) or areas[index] < PAGE_UPRIGHT_FILL * w * h:
            continue
        piece = labels[rows, cols] == index
        region = gray[rows, cols]
        level = median(region[piece])
        if level <= middle:
            continue
        solid = ndimage.binary_fill_holes(piece)
        box = turned_box_area(solid)
        if areas[index] < PAGE_FILL * box or np.count_nonzero(solid) < PAGE_SQUARE * box:
            continue
        written = solid & ~mask[rows, cols]
        if np.count_nonzero(written) >= PAGE_INK * areas[index] and _strokes(written):
            return (cols.start, rows.start, w, h), np.where(solid, region, np.float32(level))
    return None


def _strokes(region: np.ndarray) -> bool:
    """Whether a region is pen strokes rather than blobs: its mean width (twice its area over its edge's
    length) is under PAGE_STROKE of its longest extent."""
    area = np.count_nonzero(region)
    if not area:
        return False
    edge = np.count_nonzero(region & ~eroded(region))
    rows, cols = np.nonzero(region)
    extent = max(int(rows.max() - rows.min()), int(cols.max() - cols.min())) + 1
    return 2 * area / max(1, edge) <= PAGE_STROKE * extent


def cut_close(gray: np.ndarray) -> bool:
    """Whether an image looks cut close around ink that covers most of it (a bold digit cropped to its
    strokes), so that its median is ink. Dark ink: its border, mostly paper, is much lighter than its median
    (see CLOSE_CUT_CONTRAST), along CLOSE_CUT_BORDER of its length or more. A page on a darker desk has the
    opposite; a shadow across half a page darkens as much of the border as of the page. Light ink: the same
    with dark and light swapped, and its light part must be strokes, not a page (_light_strokes_cut_close)."""
    border = _border(gray)
    sample = _sample(gray)
    paper, middle = median(border), median(sample)
    contrast = CLOSE_CUT_CONTRAST * (float(sample.max()) - float(sample.min()))
    level = (paper + middle) / 2
    if paper - middle > contrast:
        return np.count_nonzero(border > level) >= CLOSE_CUT_BORDER * border.size
    return middle - paper > contrast and np.count_nonzero(border < level) >= CLOSE_CUT_BORDER * border.size \
        and _light_strokes_cut_close(gray, level)


def _light_strokes_cut_close(gray: np.ndarray, level: float) -> bool:
    """Whether what is lighter than `level` looks like strokes cropped to their reach, not a light page on
    a desk: it covers not much more than half the image, reaches three sides or two opposite ones in a few
    short runs, and a light page's body survives an erosion that takes a stroke away (see CLOSE_CUT_LIGHT
    and after)."""
    sample = _sample(gray)
    if np.count_nonzero(sample > level) > CLOSE_CUT_LIGHT * sample.size:
        return False
    reached = []  # top, bottom, left, right
    k = max(1, round(CLOSE_CUT_SIDE * max(gray.shape)))
    for side in (gray[:k].max(axis=0), gray[-k:].max(axis=0), gray[:, :k].max(axis=1),
                 gray[:, -k:].max(axis=1)):
        light = runs(side > level)
        if len(light) > CLOSE_CUT_RUNS or any(b - a > CLOSE_CUT_RUN * side.size for a, b in light):
            return False
        reached.append(bool(light))
    # A crop to the ink may leave a side only its faint edge (a 1's sides); a page in a corner of the photo
    # reaches two sides that meet.
    if sum(reached) < 3 and reached not in ([True, True, False, False], [False, False, True, True]):
        return False
    step = max(1, max(gray.shape) // 64)  # the same step both ways: erosion measures widths
    edge = CLOSE_CUT_CLOSING
    light = np.pad(gray[::step, ::step] > level, edge, mode="edge")  # closed up to the sides, too
    light = ndimage.binary_closing(light, iterations=edge)[edge:-edge, edge:-edge]
    core = ndimage.binary_erosion(light, iterations=CLOSE_CUT_ERODE, border_value=1)
    return np.count_nonzero(core) < CLOSE_CUT_CORE * np.count_nonzero(light)


def _border(pixels: np.ndarray) -> np.ndarray:
    """The pixels along an image's four sides, each once."""
    return np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])


def with_margin(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """A small image with a margin of its own paper around it, and the margin's width: a digit cropped
    tight, a bold one especially, leaves too little paper for the paper's level and polarity to be read from
    the image's median, or for the background's blocks to be mostly paper. The paper is the median of the
    image's border, which a digit crosses only here and there."""
    height, width = gray.shape
    pad = max(2, round(MARGIN * max(height, width)))
    border = _border(gray)
    out = np.full((height + 2 * pad, width + 2 * pad), median(border), dtype=np.float32)
    out[pad:pad + height, pad:pad + width] = gray
    return out, pad


def decode(data: bytes, *, max_pixels: int, coarse: bool = False, full: bool = False) -> Image.Image:
    """Open an upload with Pillow, refusing anything that is not a sane raster image.

    A JPEG is decoded at about the size the pixel work needs (`coarse`: the coarse reading's), unless `full`.
    """
    if not data:
        raise NotAnImage("the file is empty")
    formats = FORMATS
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS and _heif_opener():
        formats += ("HEIF",)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadTooLarge(f"image too large: its header claims over {Image.MAX_IMAGE_PIXELS / 1e6:.0f} "
                             f"megapixels; the limit is {max_pixels / 1e6:g} megapixels") from None
    except UnidentifiedImageError:
        raise NotAnImage(f"the file is not an image this service can read (send {FORMAT_NAMES})") from None
    except Exception:
        raise NotAnImage("the image could not be decoded") from None
    width, height = image.size
    if width * height > max_pixels:
        raise UploadTooLarge(f"image too large: {width}x{height} pixels; "
                             f"the limit is {max_pixels / 1e6:g} megapixels")
    if width < 1 or height < 1:
        raise NotAnImage("the image has no pixels")
    try:
        image.seek(0)  # first frame of an animation
        factor = 1 if full else (coarse_reduction if coarse else reduction)(width, height)
        if image.format == "JPEG" and factor > 1:
            # Decode at a reduced size straight to grey levels: most of a photo's decode time.
            image.draft("L", (-(-width // factor), -(-height // factor)))
        image.load()
        orientation = image.getexif().get(0x0112, 1)  # phone photos are often stored sideways
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        turned = orientation in (5, 6, 7, 8)  # the orientations that swap width and height
    except Exception:
        raise NotAnImage("the image is truncated or corrupt and could not be decoded") from None
    image.info["original_size"] = (height, width) if turned else (width, height)
    return image


@functools.cache
def _heif_opener() -> bool:
    """Whether Pillow can open HEIF/HEIC files, registering pillow-heif's plugin the first time. The plugin
    applies the file's rotation itself: a phone photo comes out upright, with EXIF orientation 1. Without
    pillow-heif installed, such files are "not an image"."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def to_gray(image: Image.Image, factor: int = 0) -> tuple[np.ndarray, float]:
    """Grey levels 0-255 as float32, reduced by `factor` (default: to about WORK_SIZE), and the factor back to
    upload pixels."""
    width, height = image.info.get("original_size", image.size)  # before draft() reduced it
    target = -(-max(width, height) // (factor or reduction(width, height)))  # the longest side wanted
    gray = gray_image(image)
    left = int(max(gray.size) / target + 0.5)  # what draft() has not reduced already, to the nearest size
    if left > 1:
        gray = gray.reduce(left)
    pixels = np.asarray(gray, dtype=np.float32)
    if left <= 1:
        pixels = smooth_if_tiny(pixels)
    return pixels, width / pixels.shape[1]


def gray_image(image: Image.Image) -> Image.Image:
    """Any decoded image as 8-bit grey levels ("L"): deep and floating-point grey scaled down, a palette
    expanded, transparency laid on paper (see _over_paper)."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        image = _high_depth_to_l(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _over_paper(image.convert("RGBA"))
    return image.convert("L")


def smooth_if_tiny(pixels: np.ndarray) -> np.ndarray:
    """Grey levels of a tiny image (see TINY_SIDE) enlarged smoothly; of any other image as they are. An image
    made of square blocks of equal pixels is taken at one pixel a block first."""
    block, top, left = pixel_blocks(pixels)
    if max(pixels.shape) >= TINY_SIDE * block:
        return pixels
    if block > 1:
        pixels = np.ascontiguousarray(pixels[top::block, left::block])
    times = -(-TINY_TARGET // max(pixels.shape))
    height, width = pixels.shape
    larger = Image.fromarray(pixels, "F").resize((width * times, height * times), Image.BICUBIC)
    return np.clip(np.asarray(larger), 0, 255)  # bicubic overshoots a little at sharp edges


def pixel_blocks(pixels: np.ndarray) -> tuple[int, int, int]:
    """The side of the square blocks of equal pixels an image is made of (one enlarged without smoothing,
    "nearest neighbour"), and the row and column where the first whole block starts; (1, 0, 0) if none."""
    middle = pixels[len(pixels) // 2]  # most images show it in one row: changes one pixel apart
    steps = np.flatnonzero(middle[1:] != middle[:-1])
    if len(steps) >= 3 and np.gcd.reduce(np.diff(steps)) == 1:
        return 1, 0, 0
    rows = np.flatnonzero((pixels[1:] != pixels[:-1]).any(axis=1)) + 1
    columns = np.flatnonzero((pixels[:, 1:] != pixels[:, :-1]).any(axis=0)) + 1
    if len(rows) < 3 or len(columns) < 3:  # a few plain shapes, not a picture made of blocks
        return 1, 0, 0
    block = int(np.gcd.reduce(np.concatenate([np.diff(rows), np.diff(columns)])))
    if max(pixels.shape) < MIN_BLOCKS * block:
        return 1, 0, 0
    return block, int(rows[0]) % block, int(columns[0]) % block


def reduction(width: int, height: int, size: int = WORK_SIZE) -> int:
    """The whole factor that brings the longest side to `size` or just under: 600 px -> 2 (300 px)."""
    return max(1, -(-max(width, height) // size))


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and floating-point grey levels as 8-bit: white is 1.0 for floats up to 1 (as numpy and
    scientific tools save them), else 255, 65535 or the highest value, whichever the values reach; a signed
    image's lowest value is black; a pixel that is not a number is black."""
    values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low = float(values.min(initial=0))
    if low < 0:
        values -= low
    high = float(values.max(initial=0))
    top = 1.0 if image.mode == "F" and high <= 1.0 else 255.0 if high <= 255 else max(65535.0, high)
    return Image.fromarray(np.clip(values * (255.0 / top), 0, 255).astype(np.uint8), "L")


def _over_paper(rgba: Image.Image) -> Image.Image:
    """Transparency means paper: lay the strokes on a background that contrasts with them."""
    pixels = np.asarray(rgba, dtype=np.float32)
    alpha = pixels[..., 3] / 255.0
    gray = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float32)
    opaque = alpha > 0.5
    if not opaque.any() or opaque.all():
        paper = 255.0
        if opaque.all():
            return Image.fromarray(gray.astype(np.uint8), "L")
    else:
        paper = _paper_under(gray, opaque)
    out = gray * alpha + paper * (1.0 - alpha)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "L")


def _paper_under(gray: np.ndarray, opaque: np.ndarray) -> float:
    """White or black: the paper that transparent pixels stand for. Where only one colour was cut out (a GIF's
    or a palette PNG's transparent white, an editor's "magic wand"), the strokes' soft edges stayed opaque and
    shade towards the paper that was there: lighter than their cores for dark ink. Else (a canvas: strokes of
    one colour, soft by their alpha) the paper contrasts with most of the opaque pixels."""
    inner = eroded(np.pad(opaque, 1, constant_values=True))[1:-1, 1:-1]  # beyond the sides is no edge
    edge = opaque & ~inner  # opaque pixels beside a transparent one
    if inner.any() and edge.any():
        shade = float(gray[edge].mean()) - float(gray[inner].mean())
        if abs(shade) >= EDGE_SHADE:
            return 255.0 if shade > 0 else 0.0
    return 0.0 if np.median(gray[opaque]) > 127 else 255.0


def ink_image(gray: np.ndarray) -> np.ndarray:
    """Ink bright on black (MNIST's convention), paper at 0, the strongest ink at 255."""
    return _ink_and_strength(gray)[0]


def _ink_and_strength(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The ink image (see ink_image) and how far its strongest ink lay from the paper before it was
    stretched to 255 (0-255)."""
    paper = median(_sample(gray))
    # The ink is the tail that reaches furthest from the paper; smoothed first so one noisy pixel cannot
    # decide, and over every pixel, as a thin digit on a large page covers only a few of them.
    smooth = _neighbourhood(gray, np.add) / 9.0  # a 3x3 mean (ndimage.uniform_filter), 3-4 times faster
    dark_ink = paper - float(smooth.min()) > float(smooth.max()) - paper
    ink = 255.0 - gray if dark_ink else gray.copy()
    ink -= _background(ink, lambda: _paper_beyond(gray, paper, dark_ink))  # in place: no full-size copies
    sums = _neighbourhood(ink, np.add)  # 3x3 sums: one noisy pixel cannot decide
    strength = float(sums.max()) / 9.0
    if strength < MIN_CONTRAST or strength < STRONG_INK and _steepest(sums) / 9.0 < EDGE_SHARE * strength \
            and not _clean(gray):
        raise NoDigitFound()
    ink *= 255.0 / strength
    return np.clip(ink, 0.0, 255.0, out=ink), strength


def _clean(gray: np.ndarray) -> bool:
    """Whether an image's paper, its commonest grey level, is exactly flat (see CLEAN_NEAR): drawn or
    enlarged on a computer, never photographed or scanned, so it has no shading."""
    return _flat_level(gray) is not None


def _flat_level(gray: np.ndarray) -> int | None:
    """An image's commonest grey level when it is exactly flat (see _clean), else None."""
    levels = np.bincount(np.clip(np.rint(_sample(gray)), 0, 255).astype(np.intp).ravel(), minlength=256)
    paper = int(np.argmax(levels))
    near = levels[max(0, paper - CLEAN_NEAR):paper + CLEAN_NEAR + 1].sum()
    return paper if levels[paper] >= CLEAN_FLAT * near else None


def _paper_beyond(gray: np.ndarray, paper: float, dark_ink: bool) -> float | None:
    """What lies beyond the sides of a clean image whose flat level is its paper (its median: not a desk's
    flat black), in the ink image: its paper, exactly. A typed or drawn digit trimmed to its ink may have a
    bar along a side wider than the background's opening; beyond the side, there is paper. Else None."""
    flat = _flat_level(gray)
    if flat is None or abs(flat - paper) > CLEAN_NEAR:
        return None
    return 255.0 - flat if dark_ink else float(flat)


def _steepest(values: np.ndarray) -> float:
    """The largest difference between two neighbouring pixels, along a row or a column."""
    down, across = values[1:] - values[:-1], values[:, 1:] - values[:, :-1]
    return max(float(down.max()), -float(down.min()), float(across.max()), -float(across.min()))


def _background(ink: np.ndarray, beyond: Callable[[], float | None] | None = None) -> np.ndarray:
    """The paper's level under uneven light: each block's paper level (see PAPER_SHARE), opened to remove
    the ink, smoothed. Where a block on the border reads as ink, `beyond()` may give the paper's level
    beyond the image's sides (see _paper_beyond): the opening then reaches out to it."""
    height, width = ink.shape
    block = max(4, max(height, width) // BACKGROUND_BLOCKS)
    rows, cols = -(-height // block), -(-width // block)
    padded = ink
    if rows * block != height or cols * block != width:
        padded = _pad_edges(ink, 0, rows * block - height, 0, cols * block - width)
    blocks = padded.reshape(rows, block, cols, block)
    if block >= 8:  # every other row and column of a block: as good an estimate at a quarter of the work
        blocks = blocks[:, ::2, :, ::2]
    blocks = blocks.transpose(0, 2, 1, 3).reshape(rows, cols, -1)
    count = blocks.shape[-1]
    low = min(count - 1, int(PAPER_SHARE * count))
    level = np.partition(blocks, low, axis=-1)[..., low]  # a block that is PAPER_SHARE paper reads as paper
    outside = beyond() if beyond is not None and _border(level).max() > level.min() + MIN_CONTRAST else None
    if outside is not None:
        level = np.pad(level, OPENING, constant_values=outside)
    level = _neighbourhood(_neighbourhood(level, np.minimum, OPENING), np.maximum, OPENING)  # ink goes
    if outside is not None:
        level = level[OPENING:-OPENING, OPENING:-OPENING]
    level = _neighbourhood(level, np.add) / 9.0  # smoothed
    image = Image.fromarray(level.astype(np.float32), "F").resize((width, height), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def _neighbourhood(values: np.ndarray, combine: np.ufunc, reach: int = 1) -> np.ndarray:
    """`combine` over each (2 reach + 1)-square neighbourhood, edges repeated: ndimage's grey_erosion,
    grey_dilation or (with np.add) a box sum, mode "nearest", without scipy's per-call overhead, which on the
    block grid (at most 17x17) outweighs the work. Rows first, then columns: also 3-4 times faster than
    ndimage.uniform_filter on a whole image of 150-300 px (for reach 1, its "reflect" edges are these)."""
    height, width = values.shape
    padded = _pad_edges(values, reach, reach, 0, 0)
    out = padded[reach:reach + height].copy()
    for dy in range(2 * reach + 1):
        if dy != reach:
            combine(out, padded[dy:dy + height], out=out)
    padded = _pad_edges(out, 0, 0, reach, reach)
    out = padded[:, reach:reach + width].copy()
    for dx in range(2 * reach + 1):
        if dx != reach:
            combine(out, padded[:, dx:dx + width], out=out)
    return out


def _pad_edges(values: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """np.pad(values, ((top, bottom), (left, right)), mode="edge"), without its per-call overhead."""
    height, width = values.shape
    out = np.empty((top + height + bottom, left + width + right), dtype=values.dtype)
    out[top:top + height, left:left + width] = values
    out[:top, left:left + width] = values[:1]
    out[top + height:, left:left + width] = values[-1:]
    out[:, :left] = out[:, left:left + 1]
    out[:, left + width:] = out[:, left + width - 1:left + width]
    return out


def _sample(pixels: np.ndarray) -> np.ndarray:
    """About 64x64 evenly spread pixels: enough for the paper's level and noise on any page size."""
    return pixels[:: max(1, pixels.shape[0] // 64), :: max(1, pixels.shape[1] // 64)]


def median(values: np.ndarray) -> float | np.ndarray:
    """np.median over the last axis (all of a 2-D array), without its per-call overhead on small arrays."""
    flat = values.reshape(-1) if values.ndim == 2 else values
    count = flat.shape[-1]
    ordered = np.partition(flat, [count // 2 - 1, count // 2] if count > 1 else 0, axis=-1)
    middle = ordered[..., count // 2]
    if count % 2 == 0:
        middle = (ordered[..., count // 2 - 1] + middle) / 2
    return float(middle) if middle.ndim == 0 else middle


def ink_threshold(ink: np.ndarray, threshold: float) -> float:
    """The threshold, raised above the paper's noise where stretching a faint digit made the noise strong."""
    sample = _sample(ink)
    middle = median(sample)
    spread = 1.4826 * median(np.abs(sample - middle))  # the noise's standard deviation, robustly
    return min(max(float(threshold), middle + 6.0 * spread), MAX_THRESHOLD)


def normalize_digit(ink: np.ndarray, digit: Digit) -> np.ndarray:
    """One digit as MNIST draws it: longest side 20 px, centre of mass at the centre of 28x28."""
    x, y, w, h = digit.box
    crop = np.where(digit.mask, ink[y:y + h, x:x + w], 0.0)
    crop = _thicken(crop, digit.mask)
    factor = BOX_SIZE / max(w, h)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    crop = crop.astype(np.float32, copy=False)  # already float32: no copy
    small = np.asarray(Image.fromarray(crop, "F").resize((new_w, new_h), Image.BOX))
    peak = small.max()
    if peak > 0:
        small = small * (255.0 / peak)
    out = np.zeros((INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
    cy, cx = _centre_of_mass(small) if peak > 0 else (new_h / 2, new_w / 2)
    top = min(max(round(INPUT_SIZE / 2 - cy), 0), INPUT_SIZE - new_h)
    left = min(max(round(INPUT_SIZE / 2 - cx), 0), INPUT_SIZE - new_w)
    out[top:top + new_h, left:left + new_w] = small  # 0..255 already: the crop was, and BOX averages
    return out


def _thicken(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Widen thin pen strokes so that, at 20 px, they are as wide as MNIST's (about 2 px)."""
    area = int(mask.sum())
    if area == 0:
        return crop
    edge = mask & ~eroded(mask)
    width = 2.0 * area / max(1, int(edge.sum()))
    target = 0.1 * max(mask.shape)
    grow = int(round(target - width))
    if width >= 0.6 * target or grow < 2:
        return crop
    return ndimage.grey_dilation(crop, size=(grow, grow))


def _centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass, as ndimage.center_of_mass computes it, in float64."""
    total = pixels.sum(dtype=np.float64)
    rows = pixels.sum(axis=1, dtype=np.float64) @ np.arange(pixels.shape[0], dtype=np.float64)
    cols = pixels.sum(axis=0, dtype=np.float64) @ np.arange(pixels.shape[1], dtype=np.float64)
    return rows / total, cols / total


def _scale_box(box: tuple[int, int, int, int], scale: float,
               origin: tuple[float, float] = (0, 0)) -> tuple[int, int, int, int]:
    x, y, w, h = (v * scale for v in box)
    return round(x + origin[0]), round(y + origin[1]), round(w), round(h)


def _within(digit: Digit, pad: int, shape: tuple[int, int]) -> Digit:
    """A digit found on an image with a margin of `pad` px, its box cut to the image inside the margin (the
    smoothing can spread a stroke's edge a pixel into the margin)."""
    x, y, w, h = digit.box
    x0, y0 = max(x, pad), max(y, pad)
    x1, y1 = min(x + w, shape[1] - pad), min(y + h, shape[0] - pad)
    if (x0, y0, x1, y1) == (x, y, x + w, y + h) or x1 <= x0 or y1 <= y0:
        return digit
    return Digit(box=(x0, y0, x1 - x0, y1 - y0), mask=digit.mask[y0 - y:y1 - y, x0 - x:x1 - x])
