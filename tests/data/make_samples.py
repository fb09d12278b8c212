"""Regenerate the sample images under tests/data/ from MNIST test digits, with the evaluation kit.

    python tests/data/make_samples.py                      # images from tests/data/mnist_sample.npz
    python tests/data/make_samples.py --mnist mnist.npz    # also rewrite mnist_sample.npz (Keras' file)

mnist_sample.npz holds the first 2,000 MNIST *test* digits; every image here is made from those, so no
training digit is ever in a test. The indices below are into that sample.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps
from scipy import ndimage

from app import evalkit
from app.augment import thin

HERE = Path(__file__).resolve().parent
SAMPLE_SIZE = 2000
# One clear digit per class, each read right by the shipped model (checked when chosen).
CLEAR = {0: 3, 1: 2, 2: 1, 3: 30, 4: 4, 5: 15, 6: 11, 7: 0, 8: 61, 9: 7}


def save_sample(mnist_npz: Path) -> None:
    """The first SAMPLE_SIZE test digits of Keras' mnist.npz, compressed."""
    with np.load(mnist_npz) as data:
        x, y = data["x_test"][:SAMPLE_SIZE], data["y_test"][:SAMPLE_SIZE]
    np.savez_compressed(HERE / "mnist_sample.npz", x_test=x, y_test=y)


def page(digit: np.ndarray, height: int, size: tuple[int, int], paper: tuple, ink: tuple,
         rng: np.random.Generator, *, noise: bool = True) -> Image.Image:
    """One digit in the middle of an evenly lit page of the given colours."""
    shape = evalkit.ink_shape(digit, height)
    coverage = np.zeros((size[1], size[0]), np.float32)
    top, left = (size[1] - shape.shape[0]) // 2, (size[0] - shape.shape[1]) // 2
    coverage[top:top + shape.shape[0], left:left + shape.shape[1]] = shape
    light = np.ones_like(coverage)
    if not noise:
        rgb = np.array(paper) * (1 - coverage[..., None]) + np.array(ink) * coverage[..., None]
        return Image.fromarray(np.round(rgb).astype(np.uint8))
    return Image.fromarray(evalkit.photograph(coverage, np.array(paper, float), np.array(ink, float), light,
                                              rng, blur=0.6))


def blank(rng: np.random.Generator, speck: bool = False, size: tuple[int, int] = (320, 240),
          unevenness: float = 0.5) -> Image.Image:
    """A photographed page with no ink (and, if asked, one dot of about 3 px)."""
    width, height = size
    _, colour, light = evalkit.lit_paper(width, height, rng, tones=("white",), unevenness=unevenness)
    coverage = np.zeros((height, width), np.float32)
    if speck:
        yy, xx = np.mgrid[0:height, 0:width]
        coverage = np.clip(2.0 - np.hypot(xx - 200, yy - 90), 0, 1).astype(np.float32)
    pencil = np.array([40.0, 40.0, 40.0])
    return Image.fromarray(evalkit.photograph(coverage, colour, pencil, light, rng, blur=0.5))


def hairline(digit: np.ndarray, size: tuple[int, int] = (2000, 1500), height: int = 900) -> Image.Image:
    """A digit drawn with a 1 px pencil (no smoothing) on a large white canvas, as a paint program draws."""
    spine = thin(evalkit.pen_drawing(digit, height, 1.0) > 0.5)
    canvas = np.full((size[1], size[0]), 255, np.uint8)
    top, left = (size[1] - spine.shape[0]) // 2, (size[0] - spine.shape[1]) // 2
    canvas[top:top + spine.shape[0], left:left + spine.shape[1]][spine] = 0
    return Image.fromarray(canvas)


def write(name: str, data: bytes | Image.Image) -> None:
    if isinstance(data, Image.Image):
        buffer = io.BytesIO()
        data.save(buffer, format="PNG")
        data = buffer.getvalue()
    (HERE / name).write_bytes(data)


def notebook(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone photo of a digit written in pencil on ruled notebook paper with a margin line, turned 2
    degrees: the ruling is nearly as dark as the pencil, so thresholding keeps both."""
    width, height = 480, 360
    _, colour, light = evalkit.lit_paper(width, height, rng, tones=("white",))
    rules = np.zeros((height, width), np.float32)
    for y in range(22, height, 27):
        rules[y:y + 2] = 0.7  # printed ruling, blue-grey
    rules[:, 70:72] = 0.8  # the margin
    paper = colour * (1 - rules[..., None]) + np.array([110.0, 140.0, 200.0]) * rules[..., None]
    shape = evalkit.pen_drawing(digit, 120, 5)
    coverage = np.zeros((height, width), np.float32)
    coverage[115:115 + shape.shape[0], 200:200 + shape.shape[1]] = shape  # across three rulings
    pixels = evalkit.photograph(coverage, paper, np.array([85.0, 85.0, 90.0]), light, rng, blur=0.7)
    return Image.fromarray(pixels).rotate(2, resample=Image.BILINEAR, fillcolor=tuple(int(c) for c in colour))


def on_desk(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone photo of a page that does not fill the frame: a dark wooden desk shows on three sides."""
    width, height = 480, 360
    _, colour, light = evalkit.lit_paper(width, height, rng, tones=("white",))
    page = np.zeros((height, width), bool)
    page[25:, 70:420] = True
    paper = np.where(page[..., None], colour, np.array([95.0, 70.0, 50.0]))
    shape = evalkit.pen_drawing(digit, 150, 7)
    coverage = np.zeros((height, width), np.float32)
    coverage[110:110 + shape.shape[0], 190:190 + shape.shape[1]] = shape
    return Image.fromarray(evalkit.photograph(coverage, paper, np.array([25.0, 25.0, 30.0]), light, rng,
                                              blur=0.8))


def joined(digits: list[np.ndarray], overlap: int, rng: np.random.Generator, height: int = 70) -> Image.Image:
    """Digits written so close that each touches the next: their boxes overlap by `overlap` px."""
    shapes = [evalkit.ink_shape(d, height) for d in digits]
    coverage = np.zeros((height + 60, sum(s.shape[1] for s in shapes) - overlap * (len(digits) - 1) + 60),
                        np.float32)
    left = 30
    for shape in shapes:
        h, w = shape.shape
        coverage[30:30 + h, left:left + w] = np.maximum(coverage[30:30 + h, left:left + w], shape)
        left += w - overlap
    return Image.fromarray(evalkit.photograph(coverage, np.array([240.0, 238.0, 230.0]),
                                              np.array([30.0, 30.0, 40.0]), np.ones_like(coverage), rng,
                                              blur=0.6))


def scanned_sheet(digit: np.ndarray, height: int, at: tuple[int, int]) -> bytes:
    """An A4 sheet scanned at 300 dpi to black and white (2480x3508, CCITT group 4 TIFF, as office scanners
    and fax software save it), with one handwritten digit `height` px tall at `at`."""
    shape = evalkit.ink_shape(digit, height)
    page = np.full((3508, 2480), 255, np.uint8)
    x, y = at
    page[y:y + shape.shape[0], x:x + shape.shape[1]] = np.where(shape > 0.5, 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(page).convert("1").save(buffer, format="TIFF", compression="group4", dpi=(300, 300))
    return buffer.getvalue()


def punched(digit: np.ndarray, height: int, at: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A letter page scanned at 100 dpi (850x1100) with the scanner's lid open: three punch holes along its
    left edge show black, 24 px across; one handwritten digit `height` px tall at `at`."""
    page = np.full((1100, 850), 240.0)
    yy, xx = np.mgrid[0:1100, 0:850]
    for centre in (220, 550, 880):
        page[(yy - centre) ** 2 + (xx - 35) ** 2 < 12 ** 2] = 30.0
    shape = evalkit.ink_shape(digit, height)
    x, y = at
    page[y:y + shape.shape[0], x:x + shape.shape[1]] -= (240.0 - 40.0) * shape
    page = ndimage.gaussian_filter(page, 0.6) + rng.normal(0, 2.5, page.shape)
    return Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))


def marked(digit: np.ndarray, rng: np.random.Generator, *, frame: bool) -> Image.Image:
    """A digit 150 px tall on a 300x300 photo of paper, in a box drawn around it (`frame`) or underlined."""
    shape = evalkit.ink_shape(digit, 150)
    coverage = np.zeros((300, 300), np.float32)
    top, left = (300 - shape.shape[0]) // 2, (300 - shape.shape[1]) // 2
    bottom, right = top + shape.shape[0], left + shape.shape[1]
    coverage[top:bottom, left:right] = shape
    if frame:  # a form's field: 4 px lines, 25 px above and below the digit, 40 px to either side
        coverage[top - 25:bottom + 25, left - 40:right + 40] = 1.0
        coverage[top - 21:bottom + 21, left - 36:right + 36] = 0.0
        coverage[top:bottom, left:right] = shape
    else:  # a 5 px line 12 px below the digit, 30 px longer on either side
        coverage[bottom + 12:bottom + 17, left - 30:right + 30] = 1.0
    return Image.fromarray(evalkit.photograph(coverage, np.array([245.0, 245.0, 240.0]),
                                              np.array([20.0, 20.0, 30.0]), np.ones_like(coverage), rng,
                                              blur=0.8))


def circled(digits: list[np.ndarray], rng: np.random.Generator, height: int = 110) -> Image.Image:
    """Digits `height` px tall side by side on a photo of paper, with a ring drawn around them by hand: an
    ellipse in the digits' own pen, 4 px, slightly turned and not quite closed where it began."""
    shapes = [evalkit.ink_shape(digit, height) for digit in digits]
    width = sum(s.shape[1] for s in shapes) + 20 * (len(shapes) - 1)
    size = (width + 2 * height, 3 * height)
    coverage = np.zeros((size[1], size[0]), np.float32)
    left = height
    for shape in shapes:
        top = (size[1] - shape.shape[0]) // 2
        coverage[top:top + shape.shape[0], left:left + shape.shape[1]] = shape
        left += shape.shape[1] + 20
    scale = 4  # drawn four times larger and reduced: an antialiased pen line
    ring = Image.new("L", (size[0] * scale, size[1] * scale), 0)
    centre, radii = np.array(size) / 2 * scale, np.array([width / 2 + 0.4 * height, 0.85 * height]) * scale
    turn = np.deg2rad(rng.uniform(-8, 8))
    angles = np.linspace(0.1, 2 * np.pi + 0.25, 200)  # overlapping where the pen began, as a hand draws it
    points = np.stack([radii[0] * np.cos(angles), radii[1] * np.sin(angles)], axis=1)
    points = points @ np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]]) + centre
    ImageDraw.Draw(ring).line([tuple(p) for p in points], fill=255, width=4 * scale, joint="curve")
    ring = np.asarray(ring.resize(size, Image.BOX), np.float32) / 255.0
    coverage = np.maximum(coverage, ring)
    return Image.fromarray(evalkit.photograph(coverage, np.array([244.0, 242.0, 236.0]),
                                              np.array([30.0, 35.0, 80.0]), np.ones_like(coverage), rng,
                                              blur=0.7))


def column(digits: list[np.ndarray], rng: np.random.Generator, height: int = 70,
           gap: int = 50) -> Image.Image:
    """Digits `height` px tall written one under another, `gap` px apart, on a photo of paper (a list)."""
    shapes = [evalkit.ink_shape(digit, height) for digit in digits]
    width = max(s.shape[1] for s in shapes) + 2 * height
    coverage = np.zeros((sum(s.shape[0] for s in shapes) + gap * (len(shapes) - 1) + 2 * height, width),
                        np.float32)
    top = height
    for index, shape in enumerate(shapes):
        left = (width - shape.shape[1]) // 2 + (6 if index % 2 else -6)  # not quite in line, as a hand writes
        coverage[top:top + shape.shape[0], left:left + shape.shape[1]] = shape
        top += shape.shape[0] + gap
    _, colour, light = evalkit.lit_paper(width, coverage.shape[0], rng, tones=("white",), unevenness=0.5)
    return Image.fromarray(evalkit.photograph(coverage, colour, np.array([30.0, 30.0, 60.0]), light, rng,
                                              blur=0.7))


def form(digits: list[np.ndarray], rng: np.random.Generator, *, rows: int = 1,
         comb: bool = False) -> Image.Image:
    """Digits 60 px tall on paper in `rows` lines, in 90 px cells; with `comb`, a printed row of boxes
    sharing their walls around them (a form's field for a number)."""
    per_row = len(digits) // rows
    coverage = np.zeros((140 * rows, 40 + per_row * 90), np.float32)
    for index, digit in enumerate(digits):
        row, column = divmod(index, per_row)
        shape = evalkit.ink_shape(digit, 60)
        top, left = 40 + 140 * row, 20 + 90 * column + (90 - shape.shape[1]) // 2
        region = coverage[top:top + shape.shape[0], left:left + shape.shape[1]]
        np.maximum(region, shape, out=region)
    if comb:
        coverage[25:29, 20:24 + per_row * 90] = coverage[111:115, 20:24 + per_row * 90] = 1.0
        for wall in range(per_row + 1):
            coverage[25:115, 20 + 90 * wall:24 + 90 * wall] = 1.0
    return Image.fromarray(evalkit.photograph(coverage, np.array([245.0, 245.0, 240.0]),
                                              np.array([20.0, 20.0, 30.0]), np.ones_like(coverage), rng,
                                              blur=0.8))


def cropped_tight(digit: np.ndarray, size: int) -> Image.Image:
    """A digit cut to its own ink and scaled to fill a size x size image, dark on light: paper only in the
    gaps between its strokes."""
    rows, cols = np.nonzero(digit > 30)
    crop = digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return Image.fromarray(255 - np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR)))


def low_resolution(digit: np.ndarray, size: int, enlarge: int = 0) -> Image.Image:
    """A whole 28x28 digit at size x size (each pixel the mean of those it covers, as a low-resolution scanner
    or the UCI 8x8 set has it), then, if asked, blown up `enlarge` times with square pixels."""
    small = Image.fromarray(digit).resize((size, size), Image.BOX)
    return small.resize((size * enlarge, size * enlarge), Image.NEAREST) if enlarge else small


def marker_crop(digit: np.ndarray, rng: np.random.Generator, size: int = 200,
                margin: float = 0.1) -> Image.Image:
    """A digit written with a broad marker (its strokes widened), photographed on paper and cropped by hand
    close to its ink, with a margin of `margin` of its size (none: the crop's sides touch the strokes); its
    longest side `size` px."""
    bold = ndimage.grey_dilation(digit, size=(3, 3))
    rows, cols = np.nonzero(bold > 30)
    crop = bold[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = crop.shape
    side = max(height, width)
    pad = int(side * margin)
    if margin:  # a square crop
        square = np.zeros((side + 2 * pad, side + 2 * pad), np.uint8)
        top, left = pad + (side - height) // 2, pad + (side - width) // 2
        square[top:top + height, left:left + width] = crop
        crop = square
    scale = size / max(crop.shape)
    shape = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    ink = np.asarray(Image.fromarray(crop).resize(shape, Image.BICUBIC), np.float32) / 255
    page = 232 - 190 * ink + rng.normal(0, 4, ink.shape)
    return Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))


def typed_trimmed(text: str, font: str, size: int = 240) -> Image.Image:
    """`text` typed in the font file `font` and trimmed to its ink, dark on white."""
    image = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(image).text((size // 4, size // 8), text, fill=255, font=ImageFont.truetype(font, size))
    ink = np.asarray(image, np.int32)
    rows, cols = np.nonzero(ink)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return Image.fromarray((245 - ink * 225 // 255).astype(np.uint8))


def trimmed_drawing(digit: np.ndarray, height: int = 250, pen: float = 8.0) -> Image.Image:
    """A digit drawn with a round pen `pen` px wide on a white canvas and exported trimmed to its ink (no
    margin), `height` px tall."""
    ink = evalkit.pen_drawing(digit, height, pen)
    return Image.fromarray(np.clip(245 - 225 * ink, 0, 255).astype(np.uint8))


def number_on_photo(digits: list[np.ndarray], rng: np.random.Generator, height: int = 70,
                    size: tuple[int, int] = (3000, 2250)) -> bytes:
    """A phone photo of a page with a number written small on it (digits `height` px tall), as a JPEG."""
    pieces = [evalkit._rotate(evalkit.ink_shape(d, round(height * rng.uniform(0.9, 1.1))), rng.uniform(-5, 5))
              for d in digits]
    gaps = [round(height * rng.uniform(0.15, 0.5)) for _ in pieces]
    coverage = np.zeros((size[1], size[0]), np.float32)
    x, y = int(0.3 * size[0]), int(0.6 * size[1])
    for piece, gap in zip(pieces, gaps, strict=True):
        h, w = piece.shape
        top = y + int(rng.integers(0, height // 5))
        coverage[top:top + h, x:x + w] = np.maximum(coverage[top:top + h, x:x + w], piece)
        x += w + gap
    _, colour, light = evalkit.lit_paper(size[0], size[1], rng, tones=("white", "beige"), unevenness=0.5)
    pixels = evalkit.photograph(coverage, colour, np.array([40.0, 40.0, 60.0]), light, rng, blur=1.0)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def cut_out(digit: np.ndarray, size: int = 200, tolerance: int | None = None) -> bytes:
    """An MNIST digit enlarged smoothly to `size` px, dark on white, with its white cut out as image editors
    do: a palette PNG whose white (only) is transparent, or with a `tolerance`, an RGBA PNG whose pixels that
    close to white are."""
    image = Image.fromarray(255 - digit).resize((size, size), Image.BICUBIC)
    buffer = io.BytesIO()
    if tolerance is None:
        image.convert("P").save(buffer, format="PNG", transparency=255)
    else:
        alpha = np.where(np.asarray(image) >= 255 - tolerance, 0, 255).astype(np.uint8)
        rgba = image.convert("RGBA")
        rgba.putalpha(Image.fromarray(alpha))
        rgba.save(buffer, format="PNG")
    return buffer.getvalue()


def enlarged(digit: np.ndarray, height: int = 300) -> Image.Image:
    """A digit cut to its ink and enlarged smoothly (bicubic) on a computer to `height` px, dark on white:
    its edges rise over 15 px, as soft as shading on a photo."""
    rows, cols = np.nonzero(digit > 30)
    crop = digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    size = (round(height * crop.shape[1] / crop.shape[0]), height)
    return Image.fromarray(255 - np.asarray(Image.fromarray(crop).resize(size, Image.BICUBIC)))


def out_of_focus(digit: np.ndarray, rng: np.random.Generator, blur: float = 12.0) -> Image.Image:
    """A 400x400 phone photo of a digit 200 px tall on white paper, out of focus: blurred over `blur` px."""
    _, colour, light = evalkit.lit_paper(400, 400, rng, tones=("white",))
    shape = evalkit.ink_shape(digit, 200)
    coverage = np.zeros((400, 400), np.float32)
    top, left = (400 - shape.shape[0]) // 2, (400 - shape.shape[1]) // 2
    coverage[top:top + shape.shape[0], left:left + shape.shape[1]] = shape
    return Image.fromarray(evalkit.photograph(coverage, colour, np.array([30.0, 30.0, 40.0]), light, rng,
                                              blur=blur))


def noisy(image: Image.Image, rng: np.random.Generator, sigma: float = 4.0) -> Image.Image:
    """`image` with a camera's noise (Gaussian, `sigma` grey levels)."""
    pixels = np.asarray(image, np.float32) + rng.normal(0, sigma, (image.height, image.width))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def shadowed(digit: np.ndarray | None, rng: np.random.Generator, size: tuple[int, int] = (420, 360),
             at: tuple[float, float] = (0.5, 0.5), through: tuple[float, float] | None = None,
             angle: float | None = None) -> bytes:
    """A phone photo of a digit on white paper (none if `digit` is None), centred at `at` (shares of the
    width and height), under a soft shadow (a hand's): a band a tenth of the page wide, 30% darker at its
    middle, through `through` (the digit's centre if None), its normal at `angle` radians (random if None)."""
    width, height = size
    _, colour, light = evalkit.lit_paper(width, height, rng, tones=("white",))
    coverage = np.zeros((height, width), np.float32)
    if digit is not None:
        shape = evalkit.ink_shape(digit, 120)
        top = int(at[1] * height - shape.shape[0] / 2)
        left = int(at[0] * width - shape.shape[1] / 2)
        coverage[top:top + shape.shape[0], left:left + shape.shape[1]] = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi) if angle is None else angle
    centre_x, centre_y = (through or at)[0] * width, (through or at)[1] * height
    across = np.abs(np.cos(angle) * (xx - centre_x) + np.sin(angle) * (yy - centre_y))
    light = light * (1 - 0.3 * np.exp(-(across / (0.1 * min(width, height))) ** 2))
    image = evalkit.photograph(coverage, colour, np.array([30.0, 30.0, 40.0]), light, rng, blur=0.8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def cropped_row(digits: list[np.ndarray], height: int = 60, gap: int = 12) -> Image.Image:
    """Digits side by side, dark on light, the image cropped tight to their ink."""
    shapes = [evalkit.ink_shape(d, height) for d in digits]
    coverage = np.zeros((max(s.shape[0] for s in shapes), sum(s.shape[1] + gap for s in shapes)), np.float32)
    left = 0
    for shape in shapes:
        coverage[:shape.shape[0], left:left + shape.shape[1]] = shape
        left += shape.shape[1] + gap
    rows, cols = np.nonzero(coverage > 0.1)
    coverage = coverage[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return Image.fromarray((250 - 220 * coverage).astype(np.uint8))


def sticky_note(digit: np.ndarray, rng: np.random.Generator, turn: float = 0.0) -> Image.Image:
    """A phone photo (640x480) of a digit on a yellow sticky note on a wooden desk that fills most of it; the
    note turned `turn` degrees on the desk."""
    height, width = 480, 640
    side = int(height * rng.uniform(0.4, 0.55))
    yy, xx = np.mgrid[0:height, 0:width]
    photo = np.ones((height, width, 3)) * np.array([95.0, 70, 50]) * rng.uniform(0.7, 1.2)
    photo += (np.sin(xx / rng.uniform(6, 14) + yy / 40.0) * 8)[..., None]  # the wood's grain
    top, left = int(rng.integers(10, height - side - 10)), int(rng.integers(10, width - side - 10))
    note = np.zeros((height, width), np.float32)
    note[top:top + side, left:left + side] = 1.0
    shape = evalkit.ink_shape(digit, int(side * rng.uniform(0.5, 0.75)))[:, :side - 8]
    ink = np.zeros((height, width), np.float32)
    y0, x0 = top + (side - shape.shape[0]) // 2, left + (side - shape.shape[1]) // 2
    ink[y0:y0 + shape.shape[0], x0:x0 + shape.shape[1]] = shape
    if turn:
        centre = (left + side / 2, top + side / 2)
        note, ink = (np.asarray(Image.fromarray(layer, "F").rotate(turn, Image.BILINEAR, center=centre))
                     for layer in (note, ink))
    photo = photo * (1 - note[..., None]) + np.array([250.0, 235, 120]) * note[..., None]
    photo = photo * (1 - ink[..., None]) + np.array([30.0, 30, 60]) * ink[..., None]
    photo = ndimage.gaussian_filter(photo, (0.8, 0.8, 0)) + rng.normal(0, 3, photo.shape)
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def encoded(image: Image.Image, fmt: str, *, orientation: int = 1, quality: int = 60) -> bytes:
    """`image` as an AVIF or HEIF file (HEIF needs pillow-heif); stored turned as a phone stores a photo taken
    sideways when `orientation` is 6: the file holds the pixels turned and says how to turn them upright."""
    exif = Image.Exif()
    if orientation == 6:
        image = image.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def make(x: np.ndarray, y: np.ndarray) -> None:
    """Every sample file; each from its own seed so that one can change without moving the others."""
    first = {d: int(np.flatnonzero(y == d)[0]) for d in range(10)}
    rng = np.random.default_rng
    for digit, index in CLEAR.items():
        write(f"digit_{digit}.png", evalkit.mnist(x[index], str(digit)).data)
    write("detached_bar_5.png", evalkit.mnist(x[694], "5").data)  # the 5's bar does not touch its body
    write("exif_rotated_7.jpg", evalkit.paper(x[first[7]], "7", rng(7), orientation=6, fmt="JPEG").data)
    write("canvas_3.png", evalkit.canvas(x[CLEAR[3]], "3", rng(3), stroke=12).data)
    # The same 5 on a canvas: its bar, drawn with the pen lifted, ends beside the body, past its columns.
    write("canvas_lifted_bar_5.png", evalkit.canvas(x[694], "5", rng([5, 694]), stroke=12).data)
    write("white_on_black_4.png", page(x[first[4]], 120, (200, 170), (35, 38, 40), (235, 235, 225), rng(4)))
    write("black_on_white_2.png", page(x[first[2]], 100, (160, 150), (255, 255, 255), (0, 0, 0), rng(2),
                                      noise=False))
    write("rgb_5.png", page(x[CLEAR[5]], 110, (180, 180), (250, 228, 120), (30, 60, 170), rng(5)))
    write("photo_grey_ink_8.jpg", evalkit.paper(x[CLEAR[8]], "8", rng(24), orientation=1, fmt="JPEG").data)
    twenty = [x[first[2]], x[first[0]], x[int(np.flatnonzero(y == 2)[1])], x[first[5]]]
    write("row_2025.png", evalkit.row(twenty, "2025", rng(2025), fmt="PNG").data)
    write("blank_page.png", blank(rng(10)))
    write("speck.png", blank(rng(11), speck=True))
    # A blank page lit unevenly: its darker side, left over by the background estimate and stretched to full
    # contrast, was read as a "1".
    write("shaded_blank_page.jpg", jpeg(blank(rng([17, 0]), size=(640, 480), unevenness=2.0)))
    write("typed_7.png", evalkit.typed("7", rng(18), font="LiberationSans-Regular", fmt="PNG").data)
    # Phone-camera sizes: read first at about 170x130 px; the small digit is read again at 320x240.
    write("photo_big_digit_9.jpg", jpeg(page(x[CLEAR[9]], 520, (1200, 900), (236, 232, 222), (60, 60, 80),
                                             rng(9))))
    write("photo_small_digit_4.jpg", jpeg(page(x[first[4]], 110, (1600, 1200), (236, 232, 222),
                                               (60, 60, 80), rng(40))))
    write("ruled_paper_3.jpg", jpeg(notebook(x[CLEAR[3]], rng(33))))
    write("desk_photo_6.jpg", jpeg(on_desk(x[CLEAR[6]], rng(66))))
    # Faint pen digits on narrow pages with dark corners: the shading crosses the threshold at the edges.
    # A digit of ordinary size (5 mm) on a page scanned at 300 dpi: 5 px tall at the work size.
    write("scan_a4_3.tif", scanned_sheet(x[CLEAR[3]], 60, (1510, 820)))
    # A form's field drawn around a 7 (read as "0" before), and a 0 underlined (read as "2").
    write("boxed_7.png", marked(x[CLEAR[7]], rng(7), frame=True))
    write("underlined_0.png", marked(x[CLEAR[0]], rng(0), frame=False))
    # A 3 cut tight to its ink, 64x64 (read as "37" before the margin), and a 0 (read as "4").
    write("tight_3.png", cropped_tight(x[68], 64))
    write("tight_0.png", cropped_tight(x[25], 64))
    # A 4 written with a marker and cropped close: its strokes are as wide as the paper's blocks were, so
    # they counted as background and were hollowed out (read as "12").
    write("marker_4.jpg", jpeg(marker_crop(x[49], rng([8, 49]))))
    # A 3 in marker cut at its ink, 300 px tall: mostly ink, so its median is the ink (read as "2757").
    # A page turned slightly on a desk: a sliver of desk, a wedge along one side, was read as a "1" ("41").
    write("desk_sliver_4.jpg", evalkit.notebook(x[27], "4", rng([12, 27])).data)
    # A 3 written up to the page's top edge: with the desk on three sides it was one piece, read as "7".
    write("page_edge_3.jpg", evalkit.notebook(x[18], "3", rng([12, 18, 1])).data)
    # A 5 touching the desk along the page's top edge, other ink on the page: it went with the desk (422).
    write("page_edge_5.jpg", evalkit.notebook(x[129], "5", rng([13, 129, 0])).data)
    # A wedge of desk along part of the page's right side, hardly reaching in: it was a "1" after the 7.
    write("desk_wedge_7.jpg", evalkit.notebook(x[79], "7", rng([14, 79, 2])).data)
    # A 9 on a sticky note on a desk that fills most of the photo: the desk was the paper, the note a "0".
    write("sticky_note_9.jpg", jpeg(sticky_note(x[7], rng([14, 7]))))
    # The same note turned 20 degrees on the desk: it fills too little of its upright box to have been taken
    # for a page (read as "0" before).
    write("sticky_note_turned_9.jpg", jpeg(sticky_note(x[7], rng([14, 7]), turn=20)))
    write("marker_cut_close_3.jpg", jpeg(marker_crop(x[51], rng([9, 51]), size=300, margin=0)))
    # A 0 at 8x8 px (read as "4" before tiny images were enlarged smoothly), and a 9 at 12x12 blown up with
    # square pixels to 96x96 (read as "7": the steps of its edges were read as strokes).
    write("tiny_8px_0.png", low_resolution(x[25], 8))
    write("pixelated_9.png", low_resolution(x[58], 12, enlarge=8))
    # A number in a form's comb of four fields (read as one "2" before), and two lines of three digits
    # (read as three merged pairs before).
    four = [x[CLEAR[d]] for d in (3, 1, 4, 1)]
    write("comb_3141.png", form(four, rng(3141), comb=True))
    six = [x[CLEAR[d]] for d in (1, 2, 3, 4, 5, 6)]
    write("two_lines_123_456.png", form(six, rng(123), rows=2))
    # 2, 0, 2, 5 written joined: "20" and "25" are one piece of ink each.
    write("touching_2025.png", joined([x[38], x[13], x[199], x[127]], 5, rng(0)))
    # 5 and 3 written overlapping by 6 px: every column where they meet crosses two strokes (read as "8").
    write("overlapping_53.png", joined([x[45], x[1615]], 6, rng([6, 45, 1615])))
    # A small 9 on a page scanned with its punch holes black: read again closer around the main ink, which
    # was a hole, the hole was read ("0"). A larger 4 in the holes' columns was merged with them ("1").
    write("punched_scan_9.png", punched(x[562], 43, (145, 292), rng([30, 21, 1])))
    write("punched_scan_4.png", punched(x[712], 118, (74, 269), rng([30, 42, 1])))
    # 8, 7, 9, 4 written joined into one piece of ink, four times as wide as tall: parts were tried in twos
    # and threes only, each too wide for one digit, and the whole was read as a "2".
    write("joined_8794.png", joined([x[373], x[510], x[1640], x[484]], 3, rng([6, 373, 510, 1640, 484])))
    # A 1 written against the digit beside it: the piece is narrower than two digits side by side, so no cut
    # was tried, and the whole was read as one digit ("6", "8").
    write("joined_10.png", joined([x[14], x[CLEAR[0]]], 3, rng([23, 14, CLEAR[0]])))
    write("joined_91.png", joined([x[CLEAR[9]], x[14]], 3, rng([23, CLEAR[9], 14])))
    # Notebook photos darker towards one side (a 0) or a corner (a 3): the shading there crossed the threshold
    # and, strong only against the border, was read as a digit ("02", "31").
    write("shaded_edge_0.jpg", evalkit.notebook(x[3], "0", rng([15, 3, 1])).data)
    write("shaded_corner_3.jpg", evalkit.notebook(x[245], "3", rng([15, 245, 2])).data)
    # A page turned a few degrees on a desk: the desk's wedge along the lower right side, 5% of the width
    # deep at its widest, was read as a "1" after the 8.
    write("desk_wedge_long_8.jpg", evalkit.notebook(x[110], "8", rng([16, 110, 1])).data)
    # A 7 whose bar crosses two ruled lines: the three were one thick line, a desk's edge, and the bar went
    # with it ("375" before). A 9 on a page turned on a desk: a sliver of desk along the right side, joined
    # to the page by the ruled lines, was left as a "1" when they went ("91").
    write("ruled_bridge_7.jpg", evalkit.notebook(x[1710], "7", rng([18, 1710, 1])).data)
    write("ruled_sliver_9.jpg", evalkit.notebook(x[1309], "9", rng([18, 1309, 0])).data)
    # A 5 whose bar, drawn apart, lies a third of its height off to the right: the bar was a "5" ("55").
    write("far_bar_5.jpg", evalkit.notebook(x[1940], "5", rng([18, 1940, 0])).data)
    # A 1 on a page set off-centre on a desk: the desk's corner, an L along two sides too short to be a frame,
    # was a second "1" ("11"). A 6 on ruled paper beside a desk: its lines span the page, not the photo, and
    # were left as dashes ("637"). A 9 on ruled paper shaded in a corner: the shade cut the lines short and
    # joined them, and the whole was read as a "7".
    write("desk_corner_1.jpg", evalkit.notebook(x[385], "1", rng([18, 385, 1])).data)
    write("ruled_beside_desk_6.jpg", evalkit.notebook(x[197], "6", rng([18, 197, 0])).data)
    write("shaded_ruling_9.jpg", evalkit.notebook(x[575], "9", rng([18, 575, 1])).data)
    # Two 1s written down from the page's top edge, joined to the desk around the page: all the ink was one
    # piece, read whole as a "7". The desk was too wide beside the first to find the page; beside the second
    # its ink dwarfed the 1's. A 0 on faint ruling: its bottom, lying along a line the threshold hardly
    # kept, was taken for a desk's edge and cut off ("17").
    write("desk_wide_1.jpg", evalkit.notebook(x[40], "1", rng([18, 40, 0])).data)
    write("desk_joined_1.jpg", evalkit.notebook(x[196], "1", rng([18, 196, 0])).data)
    write("faint_ruling_0.jpg", evalkit.notebook(x[297], "0", rng([18, 297, 0])).data)
    # A 5 and a 2 written up to the top edge of a page turned on a desk: the page's shaded edge joined them
    # to the desk, and nothing was left ("no digit found").
    write("top_edge_5.jpg", evalkit.notebook(x[207], "5", rng([18, 207, 1])).data)
    write("top_edge_2.jpg", evalkit.notebook(x[922], "2", rng([18, 922, 1])).data)
    # A 2 on a ruled page on a desk, the lines joining the desk on both sides: they cut the paper into strips,
    # no page was found, and the 2, touching the desk at the top, went with it ("no digit found").
    write("ruled_strips_2.jpg", evalkit.notebook(x[1824], "2", rng([18, 1824, 1])).data)
    # A 6 cut to its ink and enlarged to 300 px: its soft edges were taken for shading ("no digit found").
    write("enlarged_6.png", enlarged(x[11]))
    # Soft edges that are not shading, because the ink is as dark as a pen's: a photo out of focus (blurred
    # over 12 px), and a 0 cut to its ink, enlarged to 300 px, light on dark, with a camera's noise and saved
    # as a JPEG. Both were "no digit found": their edges rise as slowly as shading's.
    write("out_of_focus_2.jpg", jpeg(out_of_focus(x[1], rng([40, 1]))))
    buffer = io.BytesIO()
    noisy(ImageOps.invert(enlarged(x[3])), rng([41, 3])).save(buffer, format="JPEG", quality=80)
    write("enlarged_noisy_0.jpg", buffer.getvalue())
    # A 3 cut to its ink and enlarged to 200 px, light on dark: its strokes cover more than half of it, so
    # its median was ink and its polarity was misread ("81"). A ruled page on a desk, filling most of the
    # photo, has a darker border and a lighter median too, and must not be taken for such strokes.
    write("light_cut_close_3.png", ImageOps.invert(enlarged(x[68], 200)))
    # A light 1 on dark, trimmed to its ink with pen-sharp edges: its outer pixels only half covered, so
    # no light reached the sides themselves; read as dark gaps between light bars ("111").
    write("light_trimmed_1.png", Image.fromarray(np.clip(20 + 225 * evalkit.ink_shape(x[154], 300), 0, 255)
                                                 .astype(np.uint8)))
    write("ruled_page_on_desk_6.jpg", evalkit.notebook(x[286], "6", rng([18, 286, 0])).data)
    # A 7 and a 2 drawn with an 8 px pen and trimmed to their ink: the bar, sloping along the top or bottom
    # side from edge to edge, was taken for a desk's blurred edge and dropped ("1", "7").
    write("trimmed_drawing_7.png", trimmed_drawing(x[0]))
    write("trimmed_drawing_2.png", trimmed_drawing(x[35]))
    # A 2 drawn with a 10 px pen, trimmed: its bottom rises from the corner and runs on to the right side,
    # edge to edge but nowhere along the side, and bent; it too was taken for a desk's edge ("7").
    write("trimmed_drawing_bent_2.png", trimmed_drawing(x[82], 300, 10.0))
    # A bold typed 7 trimmed to its ink: its bar along the top side, a fifth of its height thick, was wider
    # than the background estimate's opening, so it was taken for paper and only the stem was read ("1").
    write("typed_trimmed_7.png", typed_trimmed(
        "7", "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"))
    # A 6 under a soft shadow across the page: the shadow crossed the threshold too, and the two read "2".
    write("shadow_crossed_6.jpg", shadowed(x[11], rng([19, 11])))
    # A 3 beside a soft shadow across the page's corner: the shadow, touching two sides that are not
    # opposite, was not looked at as one, and was read as a "1" after the 3 ("31").
    write("shadow_across_corner_3.jpg", shadowed(x[18], rng([20, 18]), at=(0.62, 0.4), through=(0.85, 0.2),
                                                 angle=-np.pi / 4))
    # "1921" cropped tight to its ink, 175 px wide: each 1, flush against a side, was taken for a desk or a
    # margin line ("92").
    write("cropped_row_1921.png", cropped_row([x[39], x[CLEAR[9]], x[CLEAR[2]], x[37]]))
    # A 4 drawn with a 1 px pencil on a 2000x1500 canvas: averaged down to the work size, its strokes faded
    # under the minimum contrast ("no digit found" before).
    write("hairline_4.png", hairline(x[CLEAR[4]]))
    write("vignette_0.jpg", evalkit.paper(x[311], "0", rng([77, 2311])).data)  # was read as a "1" of specks
    write("dark_corner_6.jpg", evalkit.paper(x[1593], "6", rng([77, 1593])).data)  # was read as "16"
    frames = [page(x[CLEAR[6]], 100, (150, 150), (245, 245, 240), (20, 20, 20), rng(6), noise=False),
              page(x[CLEAR[1]], 100, (150, 150), (245, 245, 240), (20, 20, 20), rng(1), noise=False)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=500, loop=0)
    write("animated.gif", buffer.getvalue())
    # An iPhone's HEIC photo, taken with the phone on its side (stored turned, with a rotation to undo), and
    # a photo saved as AVIF: both were "not an image" (415) before.
    write("iphone_photo_4.heic", encoded(page(x[CLEAR[4]], 450, (1200, 900), (236, 232, 222), (60, 60, 80),
                                              rng(44)), "HEIF", orientation=6, quality=30))
    # A 7 and a 38 circled by hand, as an answer on a worksheet: the ring and the digits inside were one digit
    # ("0").
    write("circled_7.jpg", jpeg(circled([x[CLEAR[7]]], rng([21, 0]))))
    write("circled_38.jpg", jpeg(circled([x[CLEAR[3]], x[CLEAR[8]]], rng([21, 38]))))
    # 3, 8 and 5 written one under another: each alone in its band of rows, they were one digit ("8").
    write("column_385.jpg", jpeg(column([x[CLEAR[3]], x[CLEAR[8]], x[CLEAR[5]]], rng([22, 385]))))
    write("photo_6.avif", encoded(page(x[CLEAR[6]], 300, (800, 600), (240, 236, 226), (30, 30, 60), rng(46)),
                                  "AVIF"))
    # A digit enlarged smoothly, dark on white, saved with its white made transparent: a palette PNG whose
    # white is transparent, and an RGBA PNG whose near-white an editor's magic wand cut out. The strokes'
    # soft, light edges stayed opaque; taken for light ink on a dark page, both were read as "8".
    write("cutout_white_7.png", cut_out(x[CLEAR[7]]))
    # A number written small (70 px digits) on a page photographed whole (3000x2250): at the work size its
    # digits are 7 px tall; nothing was found.
    number = np.random.default_rng([31, 9])
    write("number_on_photo_9612507011.jpg", number_on_photo(list(x[number.choice(len(x), 10, replace=False)]),
                                                            number))
    write("cutout_near_white_5.png", cut_out(x[45], tolerance=5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, help="Keras' mnist.npz: rewrite mnist_sample.npz from it first")
    args = parser.parse_args()
    if args.mnist:
        save_sample(args.mnist)
    with np.load(HERE / "mnist_sample.npz") as data:
        make(data["x_test"], data["y_test"])


if __name__ == "__main__":
    main()
