"""Realistic uploads made from MNIST test digits, for measuring the service end to end (`digits evaluate`).

Each kind imitates what users send: a raw MNIST PNG, a phone photo of paper, a browser canvas drawing,
a row of handwritten digits, typed digits, a photo of ruled notebook paper (sometimes on a desk).
Everything is seeded, so a kit is the same on every run.
"""

from __future__ import annotations

import glob
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from app.augment import holes, thin

KINDS = ("mnist", "paper", "canvas", "row", "typed", "notebook")
# Fonts the model never saw: training renders DejaVu and URW base35 (app/augment.py).
EVAL_FONT_GLOBS = ("/usr/share/fonts/truetype/liberation/*.ttf", "/usr/share/fonts/truetype/freefont/*.ttf")
PILLOW_FONT = "PillowDefault"  # ImageFont.load_default(size), Pillow's bundled Aileron
# Turn that stores an upright page so that a viewer applying EXIF orientation N shows it upright again.
_STORED_TURN = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif"}
# A pen drawing's centre line is taken at one of these ink levels (of 1), at one whose ink spans at least
# PEN_SPAN of the digit's height and width (see centre_line).
PEN_LEVELS = (0.25, 0.4, 0.55, 0.7, 0.85)
PEN_SPAN = 0.9


@dataclass(frozen=True)
class Sample:
    """One upload: the file's bytes, the digit string a reader should answer, and how it was made."""

    data: bytes
    expected: str
    kind: str
    tags: dict[str, str] = field(default_factory=dict)  # categories for the failure breakdown

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.tags["format"]]


def generate(kind: str, x: np.ndarray, y: np.ndarray, count: int, seed: int = 0) -> Iterator[Sample]:
    """`count` uploads of one kind from MNIST test digits `x` (n, 28, 28) and labels `y`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    k = KINDS.index(kind)
    order = np.random.default_rng([seed, k]).permutation(len(x))  # each digit once before any repeats
    for i in range(count):
        rng = np.random.default_rng([seed, k, i])  # per image, so a kit's prefix is a smaller kit
        if kind == "row":
            picks = [order[(i * 6 + j) % len(x)] for j in range(int(rng.integers(2, 7)))]
            yield row([x[p] for p in picks], "".join(str(int(y[p])) for p in picks), rng)
        elif kind == "typed":
            yield typed("".join(str(d) for d in rng.integers(0, 10, _typed_length(rng))), rng)
        else:
            pick = order[i % len(x)]
            make = {"mnist": mnist, "paper": paper, "canvas": canvas, "notebook": notebook}[kind]
            yield make(x[pick], str(int(y[pick])), rng)


def mnist(digit: np.ndarray, label: str, rng: np.random.Generator | None = None) -> Sample:
    """The MNIST digit itself, as a 28x28 greyscale PNG (white ink on black)."""
    return Sample(_encode(Image.fromarray(digit, "L"), "PNG"), label, "mnist", {"format": "PNG"})


def paper(digit: np.ndarray, label: str, rng: np.random.Generator, *, orientation: int | None = None,
          fmt: str | None = None) -> Sample:
    """A phone photo of paper: grey ink, uneven light, blur, noise; JPEG (some EXIF-turned) or GIF."""
    width, height = (int(v) for v in rng.integers(100, 701, size=2))
    size = int(min(width, height) * rng.uniform(0.25, 0.8))
    pen = rng.random() < 0.5  # a ballpoint's line instead of MNIST's own, marker-like, width
    if pen:
        shape = pen_drawing(digit, size, max(2.0, size * rng.uniform(0.04, 0.1)))
    else:
        shape = ink_shape(digit, size)
    shape = _rotate(shape, rng.uniform(-6, 6))
    if shape.shape[1] > width - 4:  # a wide digit on a narrow page: shrink it to fit
        shape = _resize(shape, (width - 4) / shape.shape[1])
    coverage = _place(shape, width, height, rng)
    tone, colour, light = lit_paper(width, height, rng, tones=("white", "grey", "beige"))
    contrast = rng.uniform(60, min(200, colour.mean() - 15))
    ink_colour = np.clip(colour.mean() - contrast + rng.normal(0, 8, 3), 0, 255)
    pixels = photograph(coverage, colour, ink_colour, light, rng, blur=rng.uniform(0.3, 1.5))
    fmt = fmt or ("GIF" if rng.random() < 0.1 else "JPEG")
    if orientation is None:
        orientation = int(rng.choice([6, 6, 6, 8, 3])) if fmt == "JPEG" and rng.random() < 0.22 else 1
    tags = {"format": fmt, "exif": str(orientation), "paper": tone, "stroke": "pen" if pen else "mnist",
            "contrast": _bucket(contrast, (90, 140)), "digit_px": _bucket(shape.shape[0], (40, 100, 250))}
    return Sample(_encode(Image.fromarray(pixels), fmt, rng, orientation=orientation), label, "paper", tags)


def canvas(digit: np.ndarray, label: str, rng: np.random.Generator, *, stroke: float | None = None) -> Sample:
    """A drawing on an HTML canvas: transparent RGBA, black round-capped strokes 6-20 px, antialiased."""
    size = int(rng.integers(200, 401))
    stroke = float(stroke or rng.uniform(6, 20))
    drawing = pen_drawing(digit, round(size * rng.uniform(0.5, 0.85)), stroke)
    if drawing.shape[1] > size - 4:  # a wide digit: the user drew it smaller
        drawing = _resize(drawing, (size - 4) / drawing.shape[1])
    coverage = _place(drawing, size, size, rng)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., 3] = np.round(coverage * 255)
    tags = {"format": "PNG", "stroke": _bucket(stroke, (9, 14)), "canvas_px": _bucket(size, (300,))}
    return Sample(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), label, "canvas", tags)


def row(digits: list[np.ndarray], expected: str, rng: np.random.Generator, *,
        fmt: str | None = None) -> Sample:
    """Several handwritten digits side by side on a light page, apart but unevenly spaced."""
    height = int(rng.integers(24, 111))
    sizes = [round(height * rng.uniform(0.85, 1.1)) for _ in digits]  # hand-written sizes wander
    pieces = [_rotate(ink_shape(d, h), rng.uniform(-5, 5)) for d, h in zip(digits, sizes, strict=True)]
    gaps = [max(4, round(height * rng.uniform(0.1, 0.6))) for _ in pieces[1:]] + [0]
    margin_x, margin_y = (round(height * rng.uniform(0.3, 1.5)) for _ in range(2))
    width = sum(p.shape[1] for p in pieces) + sum(gaps) + 2 * margin_x
    page_h = max(p.shape[0] for p in pieces) + round(0.25 * height) + 2 * margin_y
    coverage = np.zeros((page_h, width), np.float32)
    x = margin_x
    for piece, gap in zip(pieces, gaps, strict=True):
        top = margin_y + int(rng.integers(0, round(0.25 * height) + 1))  # the line wanders a little
        h, w = piece.shape
        coverage[top:top + h, x:x + w] = np.maximum(coverage[top:top + h, x:x + w], piece)
        x += w + gap
    tone, colour, light = lit_paper(width, page_h, rng, tones=("white", "beige"), unevenness=0.5)
    ink_colour = np.clip(rng.uniform(10, 80) + rng.normal(0, 8, 3), 0, 255)
    pixels = photograph(coverage, colour, ink_colour, light, rng, blur=rng.uniform(0.2, 1.0))
    fmt = fmt or ("JPEG" if rng.random() < 0.5 else "PNG")
    tags = {"format": fmt, "length": str(len(digits)), "digit_px": _bucket(height, (40, 70))}
    return Sample(_encode(Image.fromarray(pixels), fmt, rng), expected, "row", tags)


def notebook(digit: np.ndarray, label: str, rng: np.random.Generator) -> Sample:
    """A phone photo of a digit written on ruled notebook paper, half of them with a margin line; in 40% the
    page does not fill the frame and a desk shows at two or three sides; turned up to 3 degrees."""
    width, height = (int(v) for v in rng.integers(240, 701, size=2))
    _, colour, light = lit_paper(width, height, rng, tones=("white", "beige"))
    rules = np.zeros((height, width), np.float32)
    strength, thick = rng.uniform(0.3, 0.8), max(1, round(min(width, height) / 250))
    spacing = rng.uniform(0.06, 0.12) * height
    for top in np.arange(rng.uniform(0, spacing), height, spacing):
        rules[int(top):int(top) + thick] = strength
    margin = rng.random() < 0.5
    if margin:
        left = int(rng.uniform(0.08, 0.2) * width)
        rules[:, left:left + thick] = min(1.0, strength * 1.2)
    rule_colour = np.clip(np.array([110.0, 140.0, 200.0]) + rng.normal(0, 15, 3), 0, 255)
    paper = colour * (1 - rules[..., None]) + rule_colour * rules[..., None]
    page = np.ones((height, width), bool)
    desk = rng.random() < 0.4
    if desk:  # the page's corner, off-centre: desk along two or three sides
        x0, y0 = (int(rng.uniform(0.03, 0.15) * v) for v in (width, height))
        x1 = width - (int(rng.uniform(0.03, 0.15) * width) if rng.random() < 0.5 else 0)
        page[:, :x0] = page[:y0] = page[:, x1:] = False
        desk_colour = np.array([rng.uniform(40, 120), rng.uniform(35, 95), rng.uniform(30, 80)])
        paper = np.where(page[..., None], paper, desk_colour)
    size = int(min(width, height) * rng.uniform(0.3, 0.6))
    pen = rng.random() < 0.7
    shape = pen_drawing(digit, size, max(2.0, size * rng.uniform(0.04, 0.09))) if pen else \
        ink_shape(digit, size)
    shape = _resize(shape, min(1.0, 0.7 * width / shape.shape[1]))
    x0, y0 = page_corner(page)
    x1 = x0 + int(page[-1].sum())
    inner = _place(shape, x1 - x0, height - y0, rng)  # on the page, never on the desk
    coverage = np.zeros((height, width), np.float32)
    coverage[y0:, x0:x1] = inner
    contrast = rng.uniform(90, min(200, colour.mean() - 15))
    ink_colour = np.clip(colour.mean() - contrast + rng.normal(0, 8, 3), 0, 255)
    pixels = photograph(coverage, paper, ink_colour, light, rng, blur=rng.uniform(0.4, 1.2))
    turned = Image.fromarray(pixels).rotate(rng.uniform(-3, 3), resample=Image.BILINEAR,
                                            fillcolor=tuple(int(v) for v in pixels[0, 0]))
    tags = {"format": "JPEG", "ruling": "lines+margin" if margin else "lines",
            "desk": "yes" if desk else "no", "stroke": "pen" if pen else "mnist"}
    return Sample(_encode(turned, "JPEG", rng), label, "notebook", tags)


def page_corner(page: np.ndarray) -> tuple[int, int]:
    """The top left corner (x, y) of a notebook photo's page (True in `page`): the desk lies along its top,
    its left side and maybe its right side, never its bottom."""
    x0 = int(np.argmax(page[-1]))
    return x0, int(np.argmax(page[:, x0]))


def typed(text: str, rng: np.random.Generator, *, font: str | None = None, fmt: str | None = None) -> Sample:
    """Digits typed in a font the model never trained on; mostly dark on light, some light on dark."""
    fonts = eval_fonts()
    font = font or fonts[int(rng.integers(len(fonts)))]
    size = int(rng.integers(16, 161))
    face = (ImageFont.load_default(size) if font == PILLOW_FONT
            else ImageFont.truetype(next(p for p in _font_files() if Path(p).stem == font), size))
    light_on_dark = rng.random() < 0.2
    ground = rng.uniform(0, 60, 3) if light_on_dark else rng.uniform(205, 255) - rng.uniform(0, 15, 3)
    ink = rng.uniform(190, 255, 3) if light_on_dark else rng.uniform(0, 90) + rng.uniform(0, 20, 3)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=face)
    mx, my = (round(size * m) for m in rng.uniform(0.2, 2.0, 2))
    image = Image.new("RGB", (right - left + 2 * mx, bottom - top + 2 * my), tuple(int(v) for v in ground))
    ImageDraw.Draw(image).text((mx - left, my - top), text, fill=tuple(int(v) for v in ink), font=face)
    fmt = fmt or ("JPEG" if rng.random() < 0.4 else "PNG")
    tags = {"format": fmt, "font": font, "polarity": "light_on_dark" if light_on_dark else "dark_on_light",
            "length": str(len(text)), "size": _bucket(size, (32, 64))}
    return Sample(_encode(image, fmt, rng), text, "typed", tags)


def eval_fonts() -> list[str]:
    """The typed kind's fonts (file stems of Liberation and FreeFont, and Pillow's own)."""
    return sorted({Path(p).stem for p in _font_files()}) + [PILLOW_FONT]


def _font_files() -> list[str]:
    return sorted(f for pattern in EVAL_FONT_GLOBS for f in glob.glob(pattern))


def _typed_length(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.6 else int(rng.integers(2, 5))  # mostly one digit, some short numbers


def ink_shape(digit: np.ndarray, height: int) -> np.ndarray:
    """An MNIST digit as ink coverage 0-1, `height` px tall, with pen-sharp edges at any size."""
    big, factor = _enlarge(digit, height)
    steep = max(1.0, factor / 1.5)  # a photographed stroke's edge is 1-2 px wide, not `factor` px
    return _trim(np.clip((big - 0.5) * steep + 0.5, 0.0, 1.0))


def pen_drawing(digit: np.ndarray, height: int, width: float) -> np.ndarray:
    """The digit, `height` px tall, drawn again with a round pen `width` px wide (see pen_line)."""
    big, _ = _enlarge(digit, height)
    return _trim(pen_line(np.pad(big, int(width) + 2), width))


def pen_line(ink: np.ndarray, width: float) -> np.ndarray:
    """The digit `ink` (0-1) drawn again as a person traces it with a round pen `width` px wide, on a canvas
    or with a ballpoint: along its centre line (see centre_line) and on to the ends of its strokes. Coverage
    0-1, antialiased, the size of `ink` (pad it by `width` to keep the pen's edge near a side). No ink:
    `ink` itself."""
    found = centre_line(ink)
    if found is None:
        return ink
    spine, mask = found
    spine = _to_stroke_ends(spine, ndimage.distance_transform_edt(mask), width)
    return np.clip(width / 2 - ndimage.distance_transform_edt(~spine) + 0.5, 0.0, 1.0)


def centre_line(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(centre line, shape) of the level of `ink` (one of PEN_LEVELS) that keeps the digit's shape best. Of
    the levels at which the digit spans as far as at the lowest (a faint digit shrinks to a speck at a high
    one): the one with as many loops as the digit (a thick 9's head fills in at a low level and would thin
    to a line; a 3's arm can touch its middle and close a loop), then in as few pieces (a faint digit falls
    apart at a high one), then the one whose centre line, traced at the digit's own stroke width, matches
    its outline best. None when there is no ink."""
    loops, span, best = holes(ink >= 0.5), None, None
    for cut in PEN_LEVELS:
        mask = ink > cut
        rows, cols = np.nonzero(mask)
        if not len(rows):
            break
        extent = np.array([np.ptp(rows), np.ptp(cols)]) + 1
        span = extent if span is None else span
        if (extent < PEN_SPAN * span).any():
            break
        spine = thin(mask)
        inside = ndimage.distance_transform_edt(mask)
        traced = ndimage.distance_transform_edt(~spine) <= float(inside[spine].mean())  # half the stroke
        fit = np.count_nonzero(traced & mask) / np.count_nonzero(traced | mask)
        pieces = ndimage.label(mask, structure=np.ones((3, 3), bool))[1]
        key = (-abs(holes(mask) - loops), -pieces, fit)
        if best is None or key > best[0]:
            best = (key, spine, mask)
    return None if best is None else (best[1], best[2])


def _to_stroke_ends(spine: np.ndarray, inside: np.ndarray, width: float) -> np.ndarray:
    """The centre line carried on from each of its ends, straight on, to where a round pen `width` px wide
    reaches the end of the stroke (`inside`: each pixel's distance to the shape's edge). Thinning stops
    half a stroke short of each end: much of a thick digit's stroke when a thin pen draws it again."""
    out = spine.copy()
    height, width_px = spine.shape
    neighbours = ndimage.convolve(spine.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant")
    for y, x in np.argwhere(spine & (neighbours == 2)):  # an end: one neighbour
        back = _along(spine, (int(y), int(x)), max(3, round(float(inside[y, x]))))
        if back is None:
            continue
        step = np.array([y - back[0], x - back[1]], np.float64)
        step *= 0.5 / np.hypot(*step)
        point = np.array([y, x], np.float64)
        while True:
            point += step
            row, col = (int(round(v)) for v in point)
            if not (0 <= row < height and 0 <= col < width_px) or inside[row, col] < max(1.0, width / 2):
                break
            out[row, col] = True
    return out


def _along(spine: np.ndarray, start: tuple[int, int], steps: int) -> tuple[int, int] | None:
    """The point `steps` pixels back along a line of one-pixel width from its end `start` (or the last
    before a fork); None if the line is shorter than 3 pixels."""
    seen, here = {start}, start
    for _ in range(steps):
        nxt = [(here[0] + dy, here[1] + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
               if 0 <= here[0] + dy < spine.shape[0] and 0 <= here[1] + dx < spine.shape[1]
               and spine[here[0] + dy, here[1] + dx] and (here[0] + dy, here[1] + dx) not in seen]
        if len(nxt) != 1:
            break
        here = nxt[0]
        seen.add(here)
    return here if len(seen) >= 3 else None


def _enlarge(digit: np.ndarray, height: int) -> tuple[np.ndarray, float]:
    """The digit's ink, cropped and scaled to `height` px with smooth outlines (0-1), and the factor."""
    rows, cols = np.nonzero(digit)
    crop = np.pad(digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1], 2)
    factor = height / (crop.shape[0] - 4)
    size = (max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor)))
    big = np.asarray(Image.fromarray(crop).resize(size, Image.BICUBIC), np.float32) / 255.0
    if factor > 2:  # round off the 28 px grid's steps: a pen's outline is smooth
        big = ndimage.gaussian_filter(big, 0.35 * factor)
    return big, factor


def _resize(ink: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
    image = Image.fromarray(ink.astype(np.float32), "F")  # mode F reads the buffer as float32, whatever it is
    return np.clip(np.asarray(image.resize(size, Image.BILINEAR)), 0.0, 1.0)


def _rotate(ink: np.ndarray, degrees: float) -> np.ndarray:
    return _trim(np.clip(ndimage.rotate(ink, degrees, reshape=True, order=1), 0.0, 1.0))


def _trim(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(ink > 0.02)
    return ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _place(ink: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A width x height coverage map with `ink` at a random place, at least 2 px from every edge."""
    h, w = ink.shape
    top = int(rng.integers(2, max(3, height - h - 1)))
    left = int(rng.integers(2, max(3, width - w - 1)))
    coverage = np.zeros((height, width), np.float32)
    coverage[top:top + h, left:left + w] = ink[:height - top, :width - left]
    return coverage


def lit_paper(width: int, height: int, rng: np.random.Generator, *, tones: tuple[str, ...],
           unevenness: float = 1.0) -> tuple[str, np.ndarray, np.ndarray]:
    """A paper tone, its RGB colour, and the light falling on it: a gradient times an off-centre vignette."""
    tone = str(rng.choice(tones))
    if tone == "white":
        colour = rng.uniform(222, 252) + rng.normal(0, 3, 3)
    elif tone == "grey":
        colour = rng.uniform(160, 215) + rng.normal(0, 4, 3)
    else:
        colour = np.array([rng.uniform(225, 248), rng.uniform(205, 228), rng.uniform(165, 200)])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / max(width, height)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    ramp = (ramp - ramp.min()) / max(1e-6, float(np.ptp(ramp)))
    light = 1.0 - unevenness * rng.uniform(0.0, 0.3) * ramp
    cx, cy = rng.uniform(0.2, 0.8, 2) * np.array([width, height]) / max(width, height)
    reach = (xx - cx) ** 2 + (yy - cy) ** 2
    light *= 1.0 - unevenness * rng.uniform(0.0, 0.3) * reach / reach.max()  # the darkest corner
    return tone, np.clip(colour, 0, 255), light * rng.uniform(0.8, 1.05)


def photograph(coverage: np.ndarray, colour: np.ndarray, ink_colour: np.ndarray, light: np.ndarray,
           rng: np.random.Generator, *, blur: float) -> np.ndarray:
    """Light times reflectance (paper or ink), then lens blur and sensor noise, as RGB uint8."""
    reflect = colour * (1.0 - coverage[..., None]) + ink_colour * coverage[..., None]
    pixels = ndimage.gaussian_filter(reflect * light[..., None], sigma=(blur, blur, 0))
    pixels = pixels + rng.normal(0, rng.uniform(1.5, 7.0), pixels.shape)
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def _bucket(value: float, edges: tuple[float, ...]) -> str:
    """A number as a named range, e.g. 57 with edges (40, 100) -> '40-100'."""
    low = [e for e in edges if e <= value]
    high = [e for e in edges if e > value]
    if not low:
        return f"<{high[0]:g}"
    return f">={low[-1]:g}" if not high else f"{low[-1]:g}-{high[0]:g}"


def _encode(image: Image.Image, fmt: str, rng: np.random.Generator | None = None, *,
            orientation: int = 1) -> bytes:
    """Save as an upload file: JPEG at a random quality, optionally stored turned with an EXIF tag."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options: dict = {"quality": int(rng.integers(40, 96)) if rng is not None else 90}
        if orientation != 1:
            image = image.transpose(_STORED_TURN[orientation])
            exif = Image.Exif()
            exif[0x0112] = orientation
            options["exif"] = exif
        image.convert("RGB").save(buffer, format="JPEG", **options)
    elif fmt == "GIF":
        colours = int(rng.choice([32, 64, 256])) if rng is not None else 256
        image.convert("RGB").quantize(colors=colours).save(buffer, format="GIF")
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()
