"""Split an ink mask into digits: connected components, pieces of one digit merged, specks dropped."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
_VERTICAL = np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=bool)
MIN_DIGIT_PIXELS = 6  # a digit is at least this tall or wide in the working image
MIN_DIGIT_FRACTION = 0.04  # ... and at least this fraction of the image's shorter side
# A dash, not a digit: shorter than DASH_HEIGHT of that size, and than DASH_FLAT of its own width.
DASH_HEIGHT = 0.5
DASH_FLAT = 0.25
# Noise: a piece of ink that nowhere reaches STRONG_SHARE of the way from the threshold to the strongest ink,
# outside the box of every piece that does.
STRONG_SHARE = 0.5
# Shading: a piece at the image's border whose strong part (as above) is under SHADE_CORE of its pixels, and
# that does not hold the strongest ink, is a dark corner of the photo or the edge of a shadow: it reaches the
# strong level only where it is darkest, against the border, where a stroke's core runs all along it.
SHADE_CORE = 0.2
# A soft shadow coming into the photo (see without_shadows): a piece on the border, along no more than
# SHADOW_ALONG of a side, whose ink just outside it is still SHADOW_RING of the threshold; peeled at most
# SHADOW_TRIES times.
SHADOW_RING = 0.5
SHADOW_ALONG = 0.5
SHADOW_TRIES = 8
# A dot, not a digit (see _without_dots): solid (DOT_FILL of the ellipse in its box), round (DOT_ROUND), no
# taller than DOT_HEIGHT of the tallest piece, apart from the others.
DOT_HEIGHT = 0.6
DOT_ROUND = 0.8
DOT_FILL = 0.8
DOT_BATCH = 256  # candidate dots compared with every piece at a time (memory: DOT_BATCH x pieces)
COLUMN_GAP = 1.0  # pieces of one digit are no further apart than this share of the taller one
# A box drawn around digits (see without_frames): at least FRAME_SIZE of the image's shorter side, ink
# along FRAME_SIDE of each side of its box within FRAME_BAND of the box's shorter side from the edge.
FRAME_SIZE = 0.2
FRAME_SIDE = 0.8
FRAME_BAND = 0.12
FRAME_LINE = 0.3
FRAME_CONTENT = 0.3
# A ring drawn around digits (a circled answer) is not a 0: a piece around other pieces, together at least
# RING_CONTENT of its height, that it surrounds in RING_AROUND of the directions from each (a hand's ring is
# often not quite closed). A lone straight stroke inside must also be RING_GAP of its height from it all
# round: a slashed zero's slash, drawn apart, nearly touches its 0. A dotted zero's dot is smaller.
RING_CONTENT = 0.4
RING_AROUND = 0.85
RING_GAP = 0.1
RING_RAYS = 48
RING_DEPTH = 3.0  # the ring is no deeper than this times its usual depth ...
RING_ROUGH = 0.1  # ... and met in one run, in all but this share of the directions that meet it
RING_LINE = 0.2  # a piece is a straight stroke if its spread across is at most this share of its spread along
# An underline: at most UNDERLINE_FLAT as tall as wide, at least UNDERLINE_GAP of a digit's height below it.
UNDERLINE_FLAT = 0.25
UNDERLINE_GAP = 0.05
# Lines of text: bands of rows apart by TEXT_GAP of the shorter's height, each with pieces TEXT_HEIGHT of it.
TEXT_GAP = 0.5
TEXT_HEIGHT = 0.5
# ... or each holding one digit, as a column of digits written one under another: apart by STACK_GAP of the
# shorter's height, at least STACK_HEIGHT as tall as the taller. A narrower digit (under STACK_WIDTH as wide
# as tall: a 1, or a stroke of a broken digit such as a 9's stem) must lie STACK_NARROW_GAP apart, and two
# narrow ones never part (a 1 broken in two is as likely as two 1s). A 5's bar is short: no digit.
STACK_GAP = 0.5
STACK_NARROW_GAP = 0.8
STACK_HEIGHT = 0.6
STACK_WIDTH = 0.4
STACK_FLAT = 0.5  # ... and a digit at least this tall for its width, and STACK_HEIGHT of the tallest piece
STACK_TALL = 2.0  # two digits one under another are together at least this many times as tall as wide
STACK_STROKE = 0.3  # a piece this straight (see _straight) is narrow, however it slants: a 1, or one stroke
# Touching digits: a piece of ink at least SPLIT_ASPECT times as wide as tall may be two digits (three from
# SPLIT_THREE, four from SPLIT_FOUR), cut where a column crosses one stroke, or two outside any loop (digits
# written overlapping; such a column, for n parts, within CUT_NEAR of a part's width of where n parts of equal
# width would meet, where the side of a single digit's loop is not), with no more than CUT_STROKE of its
# height inked, at least CUT_INSET of the width from either side; each part at least PART_HEIGHT as tall as
# the whole and no more than PART_WIDTH as wide as tall. Up to CUTS such columns, 1-3 of them at a time; the
# model decides (app.reading).
SPLIT_ASPECT = 1.15
SPLIT_THREE = 1.5
SPLIT_FOUR = 2.0
CUT_STROKE = 0.35
CUT_INSET = 0.15
CUT_NEAR = 0.4
PART_HEIGHT = 0.5
PART_WIDTH = 1.2
CUTS = 6
# A 1 written against the digit beside it makes a piece narrower than SPLIT_ASPECT: from ONE_ASPECT times as
# wide as tall, a piece may also be cut where a column crosses one stroke within ONE_SIDE of its width from
# a side, when what lies beyond it is a straight stroke (STACK_STROKE), what lies before it is not, and both
# are at least ONE_HEIGHT as tall as the piece (a 4's angle, beside its stem, is not).
ONE_ASPECT = 0.7
ONE_SIDE = 0.45
ONE_HEIGHT = 0.75
ONE_TRIES = 3  # columns tried from each side, least ink first (a 0 open at the top offers dozens)
# A straight line of ink across at least LINE_SPAN of the image (runs of at least LINE_RUN of its width,
# joined across gaps of LINE_GAP) is paper's ruling or a page's edge, not a digit. Its band: its median
# thickness plus LINE_MARGIN px each side, along its centre line smoothed over LINE_SMOOTH px.
LINE_SPAN = 0.9
LINE_RUN = 0.05
LINE_GAP = 0.03
LINE_FAINT = 0.5  # lines are looked for in ink at least this share of the mask's threshold
LINE_MARGIN = 1.5
LINE_SMOOTH = 31
LINE_THICKNESS = 0.015  # ruled lines are thin: at most this fraction of the image's height (or 3 px),
EDGE_THICKNESS = 0.05  # ... or this when they run from edge to edge (a desk's edge, blurred by the light)
EDGE_PRESENT = 0.6  # ... over the threshold along this share of the width or more (a faint line is not)
EDGE_ZONE = 0.3  # and such an edge lies within this share of the image's side from its border
LINE_BENT = 1.5  # and is straight: its centre strays from a straight line by at most this times its thickness
PAGE_EDGE_ZONE = 0.15  # a thin line from edge to edge this close to a side is the page's edge
LINE_CONTRAST = 1.3  # ink this many times the line's own level, inside its band, is a stroke on the line
# Ruled lines that a digit's stroke joins into one piece, stacked in most of its columns, are parted again
# where a column's run of ink is more than STACKED_RUN times the piece's usual run (see _unstacked).
STACKED_RUN = 2.0
# Parts of a line parted by a wide stroke are one line again where one, carried on along its slope (at most
# RULED_SLOPE rows a column, measured on parts of SLOPE_SPAN columns or more), meets the other within
# LINE_DRIFT rows.
RULED_SLOPE = 0.1
SLOPE_SPAN = 20
LINE_DRIFT = 1.5
# On ruled paper, RULED_LINES lines or more across the image (or across the page, where a desk beside it
# leaves the page narrower: LINE_SPAN of the mask's width), a line from one side of the image across at least
# SHORT_LINE_SPAN of it is ruling too, cut short by the shade at the page's edge. Without them, a digit's bars
# could span its own width.
RULED_LINES = 3
SHORT_LINE_SPAN = 0.6
# A short piece beside the upper half of a tall one, CAP_HEIGHT of its height or less, is a 5's bar drawn
# apart from its body when it is at most CAP_GAP of that height away, or BAR_GAP if it is a bar: flat, at
# most BAR_FLAT as tall as it is wide. A bar left over beside digits is no digit (see _drop_specks).
CAP_HEIGHT = 0.45
CAP_GAP = 0.35
BAR_GAP = 1.0
BAR_FLAT = 0.3
# Ink along at least EDGE_RUN of one of the image's sides, solid or along FRAME_RUN of it, is what surrounds
# the page, not a digit; it goes with a fringe SURROUNDINGS_FRINGE of the shorter side wide.
EDGE_RUN = 0.2
FRAME_RUN = 0.5
SOLID = 0.6  # of its bounding box inked: a band, where a digit's strokes leave most of theirs blank
SURROUNDINGS_FRINGE = 0.015
# ... or ink from a corner of the image along both its sides, EDGE_RUN of each or more and CORNER_RUN of
# the two together (the shares added): the corner of the desk beside a page, read as a "1" or a "4" after
# the digit.
CORNER_RUN = 0.6
# ... or, along EDGE_RUN of one side and WEDGE_RUN of the other, filling CORNER_FILL of the box those two
# spans make: the page's shade in a corner, a triangle.
CORNER_FILL = 0.4
CORNER_INSET = 2  # px
CORNER_DEPTH = 0.2  # nine tenths of it lie within this share of the image from one of the two sides
# ... or a sliver along SLIVER_RUN of a side or more, reaching no further than EDGE_SLIVER of the image into
# it (the desk beside a page turned slightly: a wedge too thin to be solid, too short to be a frame).
SLIVER_RUN = 0.35
EDGE_SLIVER = 0.05
# ... or a shorter wedge, along WEDGE_RUN of a side or more, touching it along WEDGE_ALONG of its own length
# and reaching no further than WEDGE_DEPTH of the image into it (a sliver of desk along part of a side: read
# as a "1" after the digit).
WEDGE_RUN = 0.05
WEDGE_ALONG = 0.8
WEDGE_DEPTH = 0.025
# ... or a longer one, along LONG_WEDGE_RUN of a side or more, touching it along WEDGE_ALONG of its own
# length, at least LONG_WEDGE_ASPECT times as long as it reaches in, and reaching no further than
# LONG_WEDGE_DEPTH of the image into it (the desk beside a page turned a few degrees, deepest at one end).
LONG_WEDGE_RUN = 0.2
LONG_WEDGE_ASPECT = 5
LONG_WEDGE_DEPTH = 0.1
# What of the surroundings lies on the page stays (a digit written up to the page's edge joins the desk). The
# page is the largest piece of paper: PAGE_INSIDE_SHARE of the image or more, filling PAGE_INSIDE_SOLID of its
# convex outline, the ink outside that outline within PAGE_INSIDE_EDGE of the image's width from its left or
# right side, or of its height from its top or bottom (a desk, where a tight crop's strokes cross the image).
# A piece inside the outline stays when it is PAGE_INSIDE_INK of the ink inside the outline or more (the
# desk's own ink, outside, counts for nothing: a wide desk dwarfed a digit), PAGE_INSIDE_DEEP of it further
# than PAGE_INSIDE_DEPTH of the shorter side inside the outline, and touches the outline along no more than
# PAGE_INSIDE_CONTACT of its own length (a digit, where the paper between a tight crop's strokes leaves
# slivers along them, and a non-convex piece of paper wedges of desk inside its outline).
PAGE_INSIDE_SHARE = 0.5
PAGE_INSIDE_SOLID = 0.8
PAGE_INSIDE_EDGE = 0.25
PAGE_INSIDE_INK = 0.03
PAGE_INSIDE_DEEP = 0.5
PAGE_INSIDE_DEPTH = 0.04
PAGE_INSIDE_CONTACT = 1.0
# Where no piece inside the outline passes as a digit, the page's shaded edge (which runs along the outline
# about as deep as it usually runs within SHADE_ALONG of the side's length) may join one to the desk: the
# shade is left out and what touches it along no more than SHADE_CONTACT of its length is a digit.
SHADE_ALONG = 0.2
PAGE_RULE_WIDTH = 5  # px
SHADE_CONTACT = 0.9
# A line of digits cropped tight to its ink: the ink that is neither surroundings nor a line spans at least
# CROPPED_LINE of the image's height. Then a piece flush against a side (a 1 at either end), within those
# rows (give or take a tenth of the height), at least 0.6 as tall as they are and no wider than tall, is a
# digit, not the desk beside a page; and where no horizontal line was found (no ruled paper), a vertical
# line is a digit's stroke, not a margin line or a page's edge.
CROPPED_LINE = 0.8


@dataclass
class Digit:
    """One digit: its box (x, y, w, h) in the mask's pixels and its own ink inside that box."""

    box: tuple[int, int, int, int]
    mask: np.ndarray


@dataclass
class _Group:
    x0: int
    y0: int
    x1: int
    y1: int
    labels: list[int]
    area: int

    def absorb(self, other: _Group) -> None:
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.labels += other.labels
        self.area += other.area


def _without_dots(groups: list[_Group]) -> list[_Group]:
    """The pieces without dots: a solid round piece (its ink fills DOT_FILL of the ellipse in its box, its
    height DOT_ROUND to 1/DOT_ROUND of its width) no taller than DOT_HEIGHT of the tallest piece, and apart
    from every other piece by its own size or more. A punch hole in a scanned page is not a digit, and must
    not be merged with one; a blob of ink where a digit's strokes cross, or at a stroke's end, stays."""
    if not groups:
        return groups
    x0, y0, x1, y1 = np.array([(g.x0, g.y0, g.x1, g.y1) for g in groups]).T
    width, height = x1 - x0, y1 - y0
    area = np.array([g.area for g in groups])
    solid = area >= DOT_FILL * np.pi / 4 * width * height
    candidates = np.flatnonzero((height <= DOT_HEIGHT * height.max()) & (DOT_ROUND * width <= height)
                                & (DOT_ROUND * height <= width) & solid)
    dots = np.zeros(len(groups), dtype=bool)
    for start in range(0, len(candidates), DOT_BATCH):  # a noisy photo may have thousands of specks
        some = candidates[start:start + DOT_BATCH]
        gap = np.maximum.reduce([x0[None, :] - x1[some, None], x0[some, None] - x1[None, :],
                                 y0[None, :] - y1[some, None], y0[some, None] - y1[None, :]])
        gap[np.arange(len(some)), some] = np.iinfo(gap.dtype).max  # not apart from itself
        dots[some] = (gap >= np.maximum(width[some], height[some])[:, None]).all(axis=1)
    return [g for g, dot in zip(groups, dots, strict=True) if not dot]


def find_digits(mask: np.ndarray, *, single: bool = False, ink: np.ndarray | None = None) -> list[Digit]:
    """The digits in an ink mask, left to right (line by line, top to bottom, where there are several lines
    of digits); an empty list when there is no digit. `ink`, the grey
    levels the mask was cut from, tells a digit's stroke from the fainter ruled line it lies on, and from
    noise (see _noise)."""
    mask = without_surroundings(mask)
    labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    boxes = ndimage.find_objects(labels)
    cleaned = without_lines(without_frames(mask, labels, boxes), ink)
    if cleaned is not mask:  # most uploads have neither, and keep their labels
        mask = without_surroundings(cleaned)  # a sliver of desk that only ruled lines joined to the page
        labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
        boxes = ndimage.find_objects(labels)
    if count == 0:
        return []
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    dropped = _noise(labels, count, boxes, ink, mask, areas) if ink is not None else None
    groups = []
    for index, (rows, cols) in enumerate(boxes, start=1):
        if dropped is None or not dropped[index]:
            groups.append(_Group(cols.start, rows.start, cols.stop, rows.stop, [index], int(areas[index])))
    if not groups:
        return []
    largest = max(g.area for g in groups)
    # Dust: tiny next to the largest piece of ink (a JPEG speck, a fleck of paper).
    groups = _without_dots(_without_underlines([g for g in groups if g.area >= max(3, 0.02 * largest)]))
    groups = _without_rings(groups, labels)
    if not groups:
        return []
    if single:
        return [_digit(labels, count, _merge_all(groups))]
    digits = []
    for line in _lines_of_text(groups, labels):  # top to bottom, each left to right
        line = _drop_specks(_merge_broken(_merge_caps(_merge_columns(line))), min(mask.shape))
        digits += [_digit(labels, count, g) for g in sorted(line, key=lambda g: g.x0 + g.x1)]
    return digits


def _without_rings(groups: list[_Group], labels: np.ndarray) -> list[_Group]:
    """Without rings drawn around digits (see RING_CONTENT): the digits inside are read, not a "0"."""
    if len(groups) < 2:
        return groups
    x0, y0, x1, y1 = np.array([(g.x0, g.y0, g.x1, g.y1) for g in groups]).T
    rings = set()
    for start in range(0, len(groups), DOT_BATCH):  # a noisy photo may have thousands of specks
        some = np.arange(start, min(start + DOT_BATCH, len(groups)))
        inside = ((x0[some, None] < x0[None, :]) & (x1[None, :] < x1[some, None])
                  & (y0[some, None] < y0[None, :]) & (y1[None, :] < y1[some, None]))
        if not inside.any():  # most uploads: no piece lies within another's box
            continue
        top = np.where(inside, y0[None, :], np.iinfo(y0.dtype).max).min(axis=1)
        bottom = np.where(inside, y1[None, :], 0).max(axis=1)
        for index in some[bottom - top >= RING_CONTENT * (y1[some] - y0[some])]:
            held = [groups[j] for j in np.flatnonzero(inside[index - start])]
            if _ring_around(groups[index], held, labels):
                rings.add(int(index))
    return [g for i, g in enumerate(groups) if i not in rings]


def _ring_around(ring: _Group, inside: list[_Group], labels: np.ndarray) -> bool:
    """Whether `ring` surrounds pieces in its box (see RING_CONTENT) and is a ring alone, with no digit
    written against it. Pieces in its box's corners, outside it, do not count."""
    window = labels[ring.y0:ring.y1, ring.x0:ring.x1]
    own = window == ring.labels[0]
    height = ring.y1 - ring.y0
    enclosed = []
    for piece in inside:
        centre = ((piece.y0 + piece.y1) / 2 - ring.y0, (piece.x0 + piece.x1) / 2 - ring.x0)
        met, runs, depth = _rays(own, centre)
        if met.mean() < RING_AROUND:
            continue
        # Met once, by the same depth of ink, all round: a digit against the ring is met first and then
        # the ring again, or the ring's ink is deep there.
        if ((runs[met] > 1) | (depth[met] > RING_DEPTH * np.median(depth[met]))).mean() > RING_ROUGH:
            return False
        enclosed.append(piece)
    if not enclosed or max(g.y1 for g in enclosed) - min(g.y0 for g in enclosed) < RING_CONTENT * height:
        return False
    if len(enclosed) > 1:
        return True
    stroke = window == enclosed[0].labels[0]
    if not _straight(stroke):
        return True
    return bool(ndimage.distance_transform_edt(~own)[stroke].min() >= RING_GAP * height)  # clear of it


def _rays(ink: np.ndarray, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight paths from `centre` in RING_RAYS directions to the window's edge: whether each meets `ink`,
    in how many separate runs, and how long its first run is (px along the path)."""
    angles = np.linspace(0, 2 * np.pi, RING_RAYS, endpoint=False)
    steps = np.arange(max(ink.shape))
    rows = np.round(centre[0] + np.sin(angles)[:, None] * steps).astype(int)
    cols = np.round(centre[1] + np.cos(angles)[:, None] * steps).astype(int)
    within = (rows >= 0) & (rows < ink.shape[0]) & (cols >= 0) & (cols < ink.shape[1])
    hits = np.zeros(rows.shape, dtype=bool)
    hits[within] = ink[rows[within], cols[within]]
    runs = np.count_nonzero(hits[:, 1:] & ~hits[:, :-1], axis=1) + hits[:, 0]
    first = np.argmax(hits, axis=1)
    after = (steps[None, :] > first[:, None]) & ~hits
    depth = np.where(after.any(axis=1), np.argmax(after, axis=1), len(steps)) - first
    return hits.any(axis=1), runs, depth


def _straight(piece: np.ndarray, share: float = RING_LINE) -> bool:
    """Whether a piece of ink is a straight stroke: its spread across at most `share` of its spread along."""
    rows, cols = np.nonzero(piece)
    if len(rows) < 3:
        return True
    spread = np.linalg.eigvalsh(np.cov(np.stack([rows, cols]).astype(float)))
    return bool(np.sqrt(max(spread[0], 0.0)) <= share * np.sqrt(max(spread[1], 1e-9)))


def _lines_of_text(groups: list[_Group], labels: np.ndarray) -> list[list[_Group]]:
    """The pieces in lines of text, top to bottom: bands of rows that pieces share, each holding two or more
    pieces at least TEXT_HEIGHT as tall as it side by side, apart by at least TEXT_GAP of the shorter band's
    height, or one digit each (see STACK_GAP). Anything else goes with the band above it (the halves of a
    broken digit), or with the one below where that is nearer and it is short beside it (a 5's bar drawn
    above its body)."""
    bands: list[list] = []  # [y0, y1, pieces]
    for group in sorted(groups, key=lambda g: g.y0):
        if bands and group.y0 < bands[-1][1]:
            bands[-1][1] = max(bands[-1][1], group.y1)
            bands[-1][2].append(group)
        else:
            bands.append([group.y0, group.y1, [group]])

    def digits_in(band: list) -> list[_Group]:
        return [g for g in band[2] if g.y1 - g.y0 >= TEXT_HEIGHT * (band[1] - band[0])]

    tallest = max(g.y1 - g.y0 for g in groups)

    def one_shape(upper: _Group, lower: _Group) -> bool:
        """Whether two pieces one above the other, sharing columns, are together shaped like one digit."""
        if min(upper.x1, lower.x1) <= max(upper.x0, lower.x0):
            return False
        return lower.y1 - upper.y0 < STACK_TALL * max(upper.x1 - upper.x0, lower.x1 - lower.x0)

    def apart(upper: list, lower: list) -> bool:
        shorter = min(upper[1] - upper[0], lower[1] - lower[0])
        taller = max(upper[1] - upper[0], lower[1] - lower[0])
        gap = lower[0] - upper[1]
        upper_digits, lower_digits = digits_in(upper), digits_in(lower)
        if len(upper_digits) >= 2 and len(lower_digits) >= 2:
            return gap >= TEXT_GAP * shorter
        if not upper_digits or not lower_digits or shorter < STACK_HEIGHT * taller:
            return False
        alone = [side[0] for side in (upper_digits, lower_digits) if len(side) == 1]
        if any(min(g.y1 - g.y0 - STACK_FLAT * (g.x1 - g.x0), g.y1 - g.y0 - STACK_HEIGHT * tallest) < 0
               for g in alone):
            return False  # a bar or a dash (a 5's, a 7's), or a mark much smaller than the digits
        if any(one_shape(a, b) for a in upper_digits for b in lower_digits):
            return False  # a digit broken across, as by a pen that skipped, is not two
        if len(alone) == 1:  # a line of digits, and one digit alone above or below it
            return gap >= TEXT_GAP * shorter
        pair = upper_digits + lower_digits
        narrow = [g.x1 - g.x0 < STACK_WIDTH * (g.y1 - g.y0)
                  or _straight(labels[g.y0:g.y1, g.x0:g.x1] == g.labels[0], STACK_STROKE) for g in pair]
        if all(narrow):  # two strokes in one column: a broken 1 as much as two 1s
            return False
        return gap >= (STACK_NARROW_GAP if any(narrow) else STACK_GAP) * shorter

    lines: list[list] = []
    carried = None  # a short band going with the band below it
    for index, band in enumerate(bands):
        if carried is not None:  # this band was found apart from the line above: it starts a line
            lines.append([carried[0], band[1], carried[2] + band[2]])
            carried = None
            continue
        if lines and not apart(lines[-1], band):
            below = bands[index + 1] if index + 1 < len(bands) else None
            if (below is not None and band[1] - band[0] < STACK_HEIGHT * (below[1] - below[0])
                    and below[0] - band[1] < band[0] - lines[-1][1] and apart(lines[-1], below)):
                carried = band
                continue
            lines[-1][1] = max(lines[-1][1], band[1])
            lines[-1][2] += band[2]
            continue
        lines.append(band)
    return [pieces for _, _, pieces in lines]


def _noise(labels: np.ndarray, count: int, boxes: list, ink: np.ndarray, mask: np.ndarray,
           areas: np.ndarray) -> np.ndarray:
    """Which pieces of ink (by label) are noise: nowhere STRONG_SHARE of the way from the threshold to the
    strongest ink, or shading at the border (see SHADE_CORE), and outside the box of every piece that is not.
    Hysteresis, as in edge detection: the noise and shading that cross the threshold near a photo's edges
    never come near a stroke's core, or only where they are darkest, while a faint piece of a digit (a
    stroke drawn lightly and broken off) lies within the digit's box."""
    levels = ink[mask]
    low, high = float(levels.min()), float(levels.max())
    cores = np.bincount(labels[ink >= low + STRONG_SHARE * (high - low)], minlength=count + 1)
    faint = cores == 0
    height, width = labels.shape
    at_border = np.array([r.start == 0 or c.start == 0 or r.stop == height or c.stop == width
                          for r, c in boxes])
    faint[1:] |= at_border & (cores[1:] < SHADE_CORE * areas[1:])
    faint[labels[mask][np.argmax(levels)]] = False  # the strongest ink is never noise
    faint[0] = False
    if not faint.any():
        return faint
    spans = np.array([(r.start, r.stop, c.start, c.stop) for r, c in boxes])
    strong, weak = spans[~faint[1:]], spans[faint[1:]]
    inside = ((weak[:, None, 0] < strong[None, :, 1]) & (weak[:, None, 1] > strong[None, :, 0])
              & (weak[:, None, 2] < strong[None, :, 3]) & (weak[:, None, 3] > strong[None, :, 2]))
    faint[np.flatnonzero(faint)[inside.any(axis=1)]] = False
    return faint


def touches_border(mask: np.ndarray) -> bool:
    """Whether the mask has ink on the image's border, where a shadow comes in from outside the photo."""
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def without_shadows(mask: np.ndarray, ink: np.ndarray, strong: float = np.inf) -> np.ndarray:
    """The mask without soft shadows coming into the photo: a piece that reaches the image's border but lies
    along no side (SHADOW_ALONG), whose ink 2-3 px outside it (where the mask is not) is still SHADOW_RING of
    the threshold or more (its median): a shadow's edge rises over tens of pixels, a stroke's over a few.
    Such a piece is cut again at a threshold that much higher, SHADOW_TRIES times at most: what a digit's
    strokes darken over the shadow stays; what is still soft goes, a layer at a time. Ink at `strong` or more
    always stays: too dark for a shadow (a digit enlarged or out of focus, its edges as soft, cut close)."""
    if not touches_border(mask):
        return mask
    threshold = float(ink[mask].min())
    height, width = mask.shape
    for _ in range(SHADOW_TRIES):
        labels, _ = ndimage.label(mask, structure=_EIGHT_CONNECTED)
        changed = False
        for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
            if rows.start > 0 and cols.start > 0 and rows.stop < height and cols.stop < width:
                continue
            core = labels[rows, cols] == index
            along = max(core[0].sum() * (rows.start == 0), core[-1].sum() * (rows.stop == height)) / width, \
                max(core[:, 0].sum() * (cols.start == 0), core[:, -1].sum() * (cols.stop == width)) / height
            if max(along) > SHADOW_ALONG:
                continue  # lying along a side: a page's shaded edge, maybe with a digit on it
            box = slice(max(rows.start - 3, 0), rows.stop + 3), slice(max(cols.start - 3, 0), cols.stop + 3)
            piece = labels[box] == index
            ring = ndimage.binary_dilation(piece, iterations=3) & ~ndimage.binary_dilation(piece) & ~mask[box]
            if not ring.any():
                continue
            level = float(np.median(ink[box][ring]))
            if level < SHADOW_RING * threshold:
                continue
            if not changed:
                mask = mask.copy()  # the caller's stays as it was
            mask[box][piece] = ink[box][piece] >= min(level + threshold, strong)
            changed = True
        if not changed:
            return mask
    return mask


def without_frames(mask: np.ndarray, labels: np.ndarray | None = None,
                   found: list | None = None) -> np.ndarray:
    """The mask without a box drawn or printed around digits (a form's field, or a comb of fields sharing
    their walls): the piece of ink with the largest box, if at least FRAME_SIZE of the image's shorter side
    tall and wide, with ink along all four sides of its box, loses its straight lines (at least FRAME_LINE
    of its box long) when other ink at least FRAME_CONTENT of its height is left: the digits inside, even
    where they touch the box. A 0 is not straight; a box-shaped 0 has nothing inside. `labels` and `found`:
    the mask's pieces and their boxes, if labelled already."""
    if labels is None:
        labels, _ = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    if found is None:
        found = ndimage.find_objects(labels)
    if not found:
        return mask
    sizes = [(r.stop - r.start) * (c.stop - c.start) for r, c in found]
    index = int(np.argmax(sizes)) + 1
    rows, cols = found[index - 1]
    height, width = rows.stop - rows.start, cols.stop - cols.start
    if min(height, width) < FRAME_SIZE * min(mask.shape):
        return mask
    ink = labels[rows, cols] == index
    band = max(2, round(FRAME_BAND * min(height, width)))
    sides = (ink[:band].any(axis=0).mean(), ink[-band:].any(axis=0).mean(),
             ink[:, :band].any(axis=1).mean(), ink[:, -band:].any(axis=1).mean())
    if min(sides) < FRAME_SIDE:
        return mask
    across, down = max(3, round(FRAME_LINE * width)), max(3, round(FRAME_LINE * height))
    lines = (ndimage.binary_opening(ink, structure=np.ones((1, across), bool))
             | ndimage.binary_opening(ink, structure=np.ones((down, 1), bool)))
    lines = ndimage.binary_dilation(lines, structure=_EIGHT_CONNECTED) & ink  # with the lines' soft edges
    inside = np.flatnonzero((mask[rows, cols] & ~lines).any(axis=1))  # its own ink and any other
    if not len(inside) or inside[-1] - inside[0] + 1 < FRAME_CONTENT * height:
        return mask
    kept = mask.copy()
    kept[rows, cols] &= ~lines
    return kept


def without_surroundings(mask: np.ndarray) -> np.ndarray:
    """The mask without what surrounds a photographed page: the desk, or the page's shadow. That is ink
    along at least EDGE_RUN of one of the image's sides, either solid (a band), along half a side or more
    (the frame around a page), or a sliver along a side that reaches hardly into the image (see
    EDGE_SLIVER, WEDGE_RUN, LONG_WEDGE_RUN); a digit meets the edge only across its strokes, a ruled line
    only across its width. A thin fringe around it goes too: the page's half-lit edge leaves ink along it.
    What of it lies on the page, a digit written up to the page's edge, stays (see PAGE_INSIDE_SHARE)."""
    sides = (mask[0], mask[-1], mask[:, 0], mask[:, -1])
    if not any(np.count_nonzero(side) >= WEDGE_RUN * len(side) and _long_runs(side, WEDGE_RUN)
               for side in sides):  # most uploads stop here
        return mask
    labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    contact = np.zeros(count + 1)
    boxes = ndimage.find_objects(labels)
    sliver = np.zeros(count + 1, dtype=bool)  # lies along a side it touches, thin across it
    for side, axis in ((labels[0], 0), (labels[-1], 0), (labels[:, 0], 1), (labels[:, -1], 1)):
        for start, stop in _long_runs(side > 0, WEDGE_RUN):
            for label in np.unique(side[start:stop]):
                across, along = boxes[label - 1][axis], boxes[label - 1][1 - axis]
                depth = across.stop - across.start  # how far the piece reaches into the image from this side
                length = along.stop - along.start
                sliver[label] |= stop - start >= WEDGE_ALONG * length and (
                    depth <= max(2, WEDGE_DEPTH * mask.shape[axis])
                    or (depth <= LONG_WEDGE_DEPTH * mask.shape[axis] and length >= LONG_WEDGE_ASPECT * depth
                        and stop - start >= LONG_WEDGE_RUN * len(side)))
                if stop - start < EDGE_RUN * len(side):
                    continue
                contact[label] = max(contact[label], (stop - start) / len(side))
                sliver[label] |= (depth <= max(2, EDGE_SLIVER * mask.shape[axis])
                                  and stop - start >= SLIVER_RUN * len(side))
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    around = sliver.copy()
    for label in np.flatnonzero(contact):
        rows, cols = boxes[label - 1]
        solid = areas[label] >= SOLID * (rows.stop - rows.start) * (cols.stop - cols.start)
        around[label] |= solid or contact[label] >= FRAME_RUN
    around |= _corners(labels, boxes, around)
    if around.any() and not around[1:].all():
        around &= ~_ends_of_a_line(boxes, areas, around, mask.shape[0])
    if not around.any():
        return mask
    surroundings = around[labels]
    page = _page(mask)
    if surroundings.sum() == mask.sum():  # all the ink: a digit cropped tight, or one touching the desk
        on_page = _on_page(mask, page) if page is not None else None
        return mask if on_page is None else on_page
    fringe = max(2, round(SURROUNDINGS_FRINGE * min(mask.shape)))
    kept = mask & ~ndimage.binary_dilation(surroundings, iterations=fringe)
    on_page = _on_page(surroundings, page) if page is not None else None  # touching the desk from the page
    return kept if on_page is None else kept | on_page


def _corners(labels: np.ndarray, boxes: list, known: np.ndarray) -> np.ndarray:
    """Which pieces (by label; `boxes` theirs), other than those `known` already, fill a corner of the image
    along both its sides (see CORNER_RUN and CORNER_FILL): the corner of a desk around a page turned or set
    off-centre, an L too short along either side to be a frame, or the shade in a page's corner."""
    height, width = labels.shape
    corner = np.zeros(len(boxes) + 1, dtype=bool)
    for flip_rows in (False, True):
        for flip_cols in (False, True):
            view = labels[::-1 if flip_rows else 1, ::-1 if flip_cols else 1]  # this corner at (0, 0)
            # The photo's outermost pixel or two may be lighter than the desk.
            inset = next((step for step in range(CORNER_INSET + 1) if view[step, step]), None)
            if inset is None:
                continue
            label = view[inset, inset]
            if known[label] or corner[label]:
                continue
            along, down = view[inset, inset:] == label, view[inset:, inset] == label
            across = inset + (int(np.argmin(along)) if not along.all() else len(along))
            up = inset + (int(np.argmin(down)) if not down.all() else len(down))
            share_across, share_up = across / width, up / height
            if max(share_across, share_up) < EDGE_RUN or min(share_across, share_up) < WEDGE_RUN:
                continue
            if not (min(share_across, share_up) >= EDGE_RUN and share_across + share_up >= CORNER_RUN
                    or np.count_nonzero(view[:up, :across] == label) >= CORNER_FILL * across * up):
                continue
            box_rows, box_cols = boxes[label - 1]
            rows, cols = np.nonzero(labels[box_rows, box_cols] == label)  # along the two sides, not across
            rows, cols = rows + box_rows.start, cols + box_cols.start
            if flip_rows:
                rows = height - 1 - rows
            if flip_cols:
                cols = width - 1 - cols
            corner[label] = np.quantile(np.minimum(rows / height, cols / width), 0.9) <= CORNER_DEPTH
    return corner


def _ends_of_a_line(boxes: list, areas: np.ndarray, around: np.ndarray, height: int) -> np.ndarray:
    """Which pieces taken for surroundings are digits at the ends of a line of digits cropped tight (see
    CROPPED_LINE)."""
    rest = [boxes[i - 1][0] for i in np.flatnonzero(~around[1:]) + 1 if areas[i] >= 0.02 * areas[1:].max()]
    keep = np.zeros_like(around)
    if not rest:
        return keep
    top, bottom = min(r.start for r in rest), max(r.stop for r in rest)
    if bottom - top < CROPPED_LINE * height:
        return keep
    reach = 0.1 * height
    for label in np.flatnonzero(around):
        rows, cols = boxes[label - 1]
        tall = rows.stop - rows.start
        keep[label] = (rows.start >= top - reach and rows.stop <= bottom + reach
                       and tall >= 0.6 * (bottom - top) and cols.stop - cols.start <= tall)
    return keep


def _page(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The corners of a photographed page's outline and the pixels inside it (see PAGE_INSIDE_SHARE), or
    None: the largest piece of paper, convex, with the ink outside it along the image's sides (the desk), not
    across it (the strokes of a digit cropped tight, whose paper is the gaps between them). Ruled lines that
    join the desk on both sides cut the paper into strips: then ink thinner than PAGE_RULE_WIDTH is paper."""
    page = _paper_outline(mask, mask)
    if page is None:
        thick = ndimage.binary_opening(mask, structure=np.ones((PAGE_RULE_WIDTH, PAGE_RULE_WIDTH), bool))
        page = _paper_outline(mask, thick)
    return page


def _paper_outline(mask: np.ndarray, solid: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """_page, with the paper where `solid`, the mask or the thicker part of it, is not."""
    paper, count = ndimage.label(~solid)
    if not count:
        return None
    areas = np.bincount(paper.ravel())
    areas[0] = 0
    biggest = int(np.argmax(areas))
    if areas[biggest] < PAGE_INSIDE_SHARE * mask.size:
        return None
    hull = convex_outline(paper == biggest)
    if hull is None or areas[biggest] < PAGE_INSIDE_SOLID * _area(hull):
        return None
    outline = Image.new("1", (mask.shape[1], mask.shape[0]))
    ImageDraw.Draw(outline).polygon([tuple(corner) for corner in hull.tolist()], fill=1, outline=1)
    inside = np.asarray(outline)
    rows, cols = np.nonzero(mask & ~inside)
    height, width = mask.shape
    reach = np.minimum(np.minimum(rows, height - 1 - rows) / height,  # from the nearest side, a share of
                       np.minimum(cols, width - 1 - cols) / width)  # the image across that side
    if not len(reach) or reach.max() > PAGE_INSIDE_EDGE:
        return None
    return hull, eroded(inside)  # the paper's outline: its edge's shading lies outside it


def _on_page(ink: np.ndarray, page: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """The pieces of `ink` inside the page's outline that are a digit's (see PAGE_INSIDE_INK and
    PAGE_INSIDE_DEEP), or None. Where the page's shaded edge joins a digit to the desk, the digit is looked
    for again without the shade (see _shade)."""
    hull, inside = page
    rows, cols = np.nonzero(ink & inside)
    if not len(rows):
        return None
    depth = _depth(hull, rows, cols)
    digit = _inside(ink.shape, rows, cols, depth, depth <= 2.5, PAGE_INSIDE_CONTACT)  # the outline, 2 px deep
    if digit is None:
        shade = _shade(hull, rows, cols)
        shaded = np.zeros(ink.shape, dtype=bool)
        shaded[rows[shade], cols[shade]] = True
        lit = ~shade
        rows, cols, depth = rows[lit], cols[lit], depth[lit]
        touching = ndimage.binary_dilation(shaded, structure=_EIGHT_CONNECTED)[rows, cols]
        digit = _inside(ink.shape, rows, cols, depth, (depth <= 2.5) | touching, SHADE_CONTACT)
    return digit


def _inside(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, depth: np.ndarray,
            edge: np.ndarray, contact_share: float) -> np.ndarray | None:
    """The pieces of the ink at (rows, cols), each pixel `depth` inside the page's outline and `edge` where
    it touches the page's edge, that are a digit's (touching that edge along no more than `contact_share`
    of their length), or None."""
    labels = np.zeros(shape, dtype=np.int32)
    labels[rows, cols] = 1
    labels, count = ndimage.label(labels, structure=_EIGHT_CONNECTED)
    if not count:
        return None
    piece = labels[rows, cols]
    amounts = np.bincount(piece, minlength=count + 1)
    deeper = np.bincount(piece[depth > max(2, PAGE_INSIDE_DEPTH * min(shape))], minlength=count + 1)
    contact = np.bincount(piece[edge], minlength=count + 1)
    spans = ndimage.find_objects(labels)
    extent = np.array([0] + [max(r.stop - r.start, c.stop - c.start) for r, c in spans])
    digit = ((deeper >= PAGE_INSIDE_DEEP * amounts) & (contact <= contact_share * extent)
             & (amounts >= PAGE_INSIDE_INK * amounts[1:].sum()))
    digit[0] = False
    return digit[labels] if digit.any() else None


def _shade(corners: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Which of the ink pixels at (rows, cols), inside a convex outline, are the shade along its sides: at
    each place along a side, the ink that runs in from it unbroken, as deep as it usually runs there (the
    median over SHADE_ALONG of the side's length), so a stroke that meets the shade is not."""
    depths = _depths(corners, rows, cols)
    side = np.argmin(depths, axis=1)  # the side each pixel is nearest, how deep it lies, and where along it
    level = np.floor(depths[np.arange(len(side)), side]).astype(int)
    sides = np.roll(corners, -1, axis=0) - corners
    lengths = np.hypot(sides[:, 0], sides[:, 1])
    along = np.column_stack([cols, rows]) - corners[side]
    along = np.rint((along * sides[side]).sum(axis=1) / lengths[side]).astype(int)
    shade = np.zeros(len(side), dtype=bool)
    for index in np.unique(side):
        mine = np.flatnonzero(side == index)
        start, stop = along[mine].min(), along[mine].max() + 1
        steps = np.zeros((stop - start, int(level[mine].max()) + 2), dtype=bool)  # place along x depth
        steps[along[mine] - start, np.maximum(level[mine], 0)] = True
        steps[:, :2] = True  # the outline's own pixel row, eroded away
        depth = np.argmin(steps, axis=1)  # how deep the ink runs in unbroken from the side at each place
        usual = ndimage.median_filter(depth, size=max(3, round(SHADE_ALONG * lengths[index])), mode="nearest")
        shade[mine] = level[mine] < usual[along[mine] - start]
    return shade


def turned_box_area(region: np.ndarray) -> float:
    """The area of the smallest rectangle, at any angle, around a region's pixels (each a unit square)."""
    corners = convex_outline(region)
    if corners is None:  # all in a line: the region is its own box
        return float(np.count_nonzero(region))
    sides = np.roll(corners, -1, axis=0) - corners  # the smallest box has a side along one of the outline's
    sides /= np.hypot(sides[:, 0], sides[:, 1])[:, None]
    along = corners @ sides.T
    across = corners @ np.column_stack([-sides[:, 1], sides[:, 0]]).T
    return float(((np.ptp(along, axis=0) + 1) * (np.ptp(across, axis=0) + 1)).min())


def convex_outline(region: np.ndarray) -> np.ndarray | None:
    """The corners (x, y) of the convex outline of a region's pixel centres, counter-clockwise as the image
    shows it, or None when they lie in a line. Andrew's monotone chain over each row's two ends (the only
    pixels that can be corners): scipy.spatial would do it, at 12 MB more in every worker."""
    rows = np.flatnonzero(region.any(axis=1))
    if not len(rows):
        return None
    inked = region[rows]
    first = inked.argmax(axis=1)
    last = region.shape[1] - 1 - inked[:, ::-1].argmax(axis=1)
    points = sorted({(int(x), int(y)) for y, a, b in zip(rows, first, last, strict=True) for x in (a, b)})
    if len(points) < 3:
        return None

    def chain(ordered):
        kept = []
        for point in ordered:
            while len(kept) >= 2 and _turn(kept[-2], kept[-1], point) <= 0:
                kept.pop()
            kept.append(point)
        return kept[:-1]

    corners = chain(points) + chain(points[::-1])
    return np.array(corners, dtype=np.float64) if len(corners) >= 3 else None


def _turn(o: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> int:
    """Positive when o -> a -> b turns counter-clockwise (as the numbers go), 0 when they lie in a line."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _area(corners: np.ndarray) -> float:
    """The area inside a polygon's corners (the shoelace formula)."""
    x, y = corners[:, 0], corners[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _depth(corners: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """How far (px) each pixel lies inside a convex outline (corners in either order); negative outside."""
    return _depths(corners, rows, cols).min(axis=1)


def _depths(corners: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """How far (px) each pixel lies inside each side of a convex outline: one column per side, from the
    first corner to the next."""
    sides = np.roll(corners, -1, axis=0) - corners
    normals = np.column_stack([sides[:, 1], -sides[:, 0]]) / np.hypot(sides[:, 0], sides[:, 1])[:, None]
    if np.dot(normals[0], corners.mean(axis=0) - corners[0]) < 0:  # point them inwards
        normals = -normals
    return np.column_stack([cols, rows]) @ normals.T - (normals * corners).sum(axis=1)


def eroded(mask: np.ndarray) -> np.ndarray:
    """ndimage.binary_erosion with its default cross and border (outside counts as empty), without its
    per-call overhead."""
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    return mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]


def runs(side: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of True along a line of pixels."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], side.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _long_runs(side: np.ndarray, share: float) -> list[tuple[int, int]]:
    """(start, stop) of the runs of True at least `share` of the side long."""
    return [(start, stop) for start, stop in runs(side) if stop - start >= share * len(side)]


def without_lines(mask: np.ndarray, ink: np.ndarray | None = None) -> np.ndarray:
    """The mask without straight lines that run (nearly) across the whole image: a notebook's ruled lines and
    margin, or the blurred edge of a desk. Only each line's own band goes: ink beside it (a digit's bar
    resting on the line) stays, and so do strokes crossing it, and (given `ink`) stroke pixels inside the
    band clearly darker than the line. A single thin line is left alone: in a digit cropped tight, a stroke
    spans the image too, and ruled paper has many lines."""
    candidates = mask
    if ink is not None and mask.any():  # the threshold cuts a faint line into dashes; its grey levels do not
        candidates = mask | (ink >= LINE_FAINT * float(ink[mask].min()))
    found = []  # (transposed, band, half its height, an edge)
    for transposed in (False, True):  # horizontal lines, then vertical ones
        lines = candidates.T if transposed else candidates
        if lines.any(axis=0).mean() < LINE_SPAN:  # no line can cross this image: most uploads stop here
            continue
        found += [(transposed, *line) for line in _lines(lines, mask.T if transposed else mask)]
    if sum(not edge for *_, edge in found) < 2:
        found = [line for line in found if line[-1]]
    if found and all(turned for turned, *_ in found):  # vertical lines only: maybe 1s in a cropped line
        rows = np.flatnonzero((mask & ~np.logical_or.reduce([band.T for _, band, *_ in found])).any(axis=1))
        if len(rows) and rows[-1] + 1 - rows[0] >= CROPPED_LINE * mask.shape[0]:
            found = []
    kept = mask
    for transposed in (False, True):
        bands = [(band, half, edge) for turned, band, half, edge in found if turned == transposed]
        if not bands:
            continue
        across = kept.T if transposed else kept
        band = np.logical_or.reduce([b for b, _, _ in bands])
        reach = max(int(2 * half) + 3 for _, half, _ in bands)
        remaining = across & ~band
        # A stroke crossing a line has ink on both sides of its band: close over the band, and only there.
        keep = ndimage.binary_closing(remaining, structure=np.ones((reach, 1), bool))
        if ink is not None:  # a stroke along a ruled line is darker than it (a desk's edge varies)
            levels = ink.T if transposed else ink
            for ruled in (b for b, _, edge in bands if not edge):
                rows = np.flatnonzero(ruled.any(axis=1))
                inside = slice(rows[0], rows[-1] + 1)  # the rows the band crosses
                ruled, level = ruled[inside], _line_level(levels[inside], ruled[inside])
                keep[inside] |= ruled & (levels[inside] >= LINE_CONTRAST * level)
        across = remaining | (across & band & keep)
        kept = across.T if transposed else across
    return kept


def _line_level(levels: np.ndarray, band: np.ndarray) -> float:
    """A horizontal line's own ink level: the median along it of the darkest ink across its band, so that
    neither its blurred fringe nor the strokes crossing it (a few of its columns) count."""
    across = np.where(band, levels, 0).max(axis=0)
    return float(np.median(across[band.any(axis=0)]))


def _lines(candidates: np.ndarray, mask: np.ndarray) -> list[tuple[np.ndarray, float, bool]]:
    """Horizontal lines reaching across LINE_SPAN of the width (joined runs of candidate ink at least
    LINE_RUN of it long) that put ink in the mask in at least four fifths of their length: each one's band,
    half the band's height, and whether it is a desk's edge (edge to edge, thicker than a ruled line). Where
    RULED_LINES or more span the image or the page, shorter lines of the ruling count too (see
    SHORT_LINE_SPAN)."""
    height, width = mask.shape
    inked = np.flatnonzero(mask.any(axis=0))
    page = inked[-1] + 1 - inked[0] if len(inked) else width  # the page's width, where a desk is beside it
    run = max(8, round(LINE_RUN * width))
    # A faint or slightly turned line is cut into dashes by the threshold: join them first, across gaps of
    # LINE_GAP of the width and a row up or down (the edges repeated, so a line keeps its ends).
    gap = max(3, round(LINE_GAP * width))
    candidates = ndimage.binary_opening(candidates, structure=np.ones((1, 3), bool))  # specks of noise go
    joined = ndimage.binary_closing(np.pad(candidates, ((1, 1), (gap, gap)), mode="edge"),
                                    structure=np.ones((3, gap), bool))[1:-1, gap:-gap]
    long = ndimage.binary_opening(joined, structure=np.ones((1, run), bool))  # long horizontal runs only
    labels = _unstacked(ndimage.label(long, structure=_EIGHT_CONNECTED)[0])
    found = []
    rows = np.arange(height, dtype=np.float32)[:, None]
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:  # a piece that _unstacked parted
            continue
        found_rows, cols = box
        span = cols.stop - cols.start
        if span >= LINE_SPAN * width:
            kind = 0  # across the image
        elif span >= LINE_SPAN * min(width, page):
            kind = 1  # across the page, a desk beside it
        elif span >= SHORT_LINE_SPAN * width and (cols.start == 0 or cols.stop == width):
            kind = 2  # cut short
        else:
            continue
        line = (labels[found_rows] == index) & mask[found_rows]  # where the threshold kept the line
        present = np.flatnonzero(line.any(axis=0))
        fifths = np.unique((present - cols.start) * 5 // (cols.stop - cols.start))
        if len(fifths) < 4:  # a line below the threshold, but for a digit's stroke lying along it
            continue
        top = np.argmax(line[:, present], axis=0)
        bottom = line.shape[0] - 1 - np.argmax(line[::-1, present], axis=0)
        thickness = float(np.median(bottom - top + 1))  # a digit's stroke merged into it widens a few columns
        thin = thickness <= max(3.0, LINE_THICKNESS * height)
        edge_to_edge = cols.start == 0 and cols.stop == width
        if not thin and not (edge_to_edge and thickness <= EDGE_THICKNESS * height
                             and len(present) >= EDGE_PRESENT * width):
            continue  # a bold stroke across a tight crop, or along a faint ruled line: a digit's
        centre = np.interp(np.arange(width), present, (top + bottom) / 2.0 + found_rows.start)
        centre = ndimage.median_filter(centre, size=LINE_SMOOTH, mode="nearest")  # ... and leaves the centre
        half = thickness / 2.0 + LINE_MARGIN
        middle = float(np.median(centre))
        if not half < middle < height - 1 - half:
            continue  # along the image's edge: the bar of a digit cropped tight, not a ruled line
        if not thin and EDGE_ZONE * height < middle < (1 - EDGE_ZONE) * height:
            continue  # a desk shows at the sides of a photo; across its middle, this is a shadow's edge
        band = np.abs(rows - centre[None, :].astype(np.float32)) <= half
        if not thin and ((band[0] & mask[0]).any() or (band[-1] & mask[-1]).any()
                         or _bent(present, top + bottom, thickness)):
            continue  # its ink on the image's side, or bent: a digit's bar cropped tight (a 7's, a 2's)
        # A thin line from edge to edge close to a side of the photo is where the page ends: an edge too.
        page_edge = edge_to_edge and not PAGE_EDGE_ZONE * height < middle < (1 - PAGE_EDGE_ZONE) * height
        found.append((band, half, not thin or page_edge, kind))
    if sum(kind < 2 and not edge for *_, edge, kind in found) < RULED_LINES:
        found = [line for line in found if line[-1] == 0]  # a digit's bars span its own width, not ruling
    return [line[:-1] for line in found]


def _bent(columns: np.ndarray, rows_twice: np.ndarray, thickness: float) -> bool:
    """Whether a line's centre (twice its row, at each of its columns) strays from the straight line that
    fits it best by more than LINE_BENT times its thickness somewhere: a stroke, where a desk's edge is
    straight."""
    fit = np.polyval(np.polyfit(columns, rows_twice / 2.0, 1), columns)
    return bool(np.abs(fit - rows_twice / 2.0).max() > LINE_BENT * thickness)


def _unstacked(labels: np.ndarray) -> np.ndarray:
    """`labels` with ruled lines that a digit's stroke joined into one piece, crossing from one line to the
    next, parted again: in most of its columns such a piece is two or more runs one above the other, where a
    desk's blurred edge is one thick run. Taken as one, it was a thick line, a desk's edge, whose band went
    with no stroke on it spared: a 7's bar along a ruled line, the top of a 2. The stroke's columns (one run,
    more than STACKED_RUN times the piece's usual one) are left out; parts that meet end to end across them,
    within a row, are one line again."""
    boxes = ndimage.find_objects(labels)
    count = len(boxes)
    for index, (rows, cols) in enumerate(boxes, start=1):
        piece = labels[rows, cols] == index
        stacked = np.count_nonzero(piece[1:] & ~piece[:-1], axis=0) + piece[0]  # runs of ink in each column
        if np.median(stacked[stacked > 0]) < 2:  # a single line, or a desk's edge: most pieces stop here
            continue
        segments, _ = ndimage.label(piece, structure=_VERTICAL)
        lengths = np.bincount(segments.ravel())
        lengths[0] = 0
        kept = piece & (lengths[segments] <= STACKED_RUN * float(np.median(lengths[1:])))
        parts, number = ndimage.label(kept, structure=_EIGHT_CONNECTED)
        spans = [c for _, c in ndimage.find_objects(parts)]
        lefts = [parts[:, c.start] == p for p, c in enumerate(spans, start=1)]  # each part's first column
        rights = [_grown(parts[:, c.stop - 1] == p) for p, c in enumerate(spans, start=1)]  # ... its last
        line = np.arange(number + 1)  # the line each part belongs to: its own, or the one it continues
        stroke = (piece & ~kept).any(axis=0)  # the columns of the strokes left out
        slopes = _slopes(parts, number, spans)
        for part in sorted(range(1, number + 1), key=lambda p: spans[p - 1].start):
            start = spans[part - 1].start
            before = [p for p in range(1, number + 1)
                      if spans[p - 1].stop <= start and ((rights[p - 1] & lefts[part - 1]).any()
                                                         or _continues(rights[p - 1], lefts[part - 1],
                                                                       slopes[p - 1], spans[p - 1].stop,
                                                                       start, stroke))]
            if before:
                line[part] = line[max(before, key=lambda p: spans[p - 1].stop)]
        window = labels[rows, cols]  # a view: relabels `labels` in place
        window[piece] = 0
        window[kept] = line[parts[kept]] + count
        count += number
    return labels


def _slopes(parts: np.ndarray, number: int, spans: list[slice]) -> np.ndarray:
    """Each part's slope in rows per column (a least-squares line through its pixels), within RULED_SLOPE;
    0 for a part shorter than SLOPE_SPAN columns, too short to tell."""
    rows, cols = np.nonzero(parts)
    labels = parts[rows, cols]
    cols = cols - cols.mean()  # centred: the sums below stay small
    count, x, y = (np.bincount(labels, weights, number + 1)[1:] for weights in (None, cols, rows))
    xx, xy = (np.bincount(labels, weights, number + 1)[1:] for weights in (cols * cols, cols * rows))
    spread = count * xx - x * x
    slopes = np.clip((count * xy - x * y) / np.maximum(spread, 1e-9), -RULED_SLOPE, RULED_SLOPE)
    short = np.array([c.stop - c.start < SLOPE_SPAN for c in spans])
    return np.where(short, 0.0, slopes)


def _continues(right: np.ndarray, left: np.ndarray, slope: float, stop: int, start: int,
               stroke: np.ndarray) -> bool:
    """Whether a part whose last column (grown a row up and down) is `right`, ending before column `stop`,
    goes on, along its slope, as the part whose first column at `start` is `left`, across a gap that the
    strokes left out fill: a ruled line on a turned page, crossed by a stroke as wide as many columns, has
    moved a row or more by the other side of it."""
    if start - stop < 2 or not stroke[stop:start].all():
        return False
    end, begin = np.flatnonzero(right), np.flatnonzero(left)
    predicted = (end.min() + end.max()) / 2.0 + slope * (start - stop + 1)
    return bool(abs(predicted - (begin.min() + begin.max()) / 2.0) <= LINE_DRIFT)


def _grown(column: np.ndarray) -> np.ndarray:
    """A column's pixels and the ones above and below them."""
    return column | np.concatenate(([False], column[:-1])) | np.concatenate((column[1:], [False]))


def _without_underlines(groups: list[_Group]) -> list[_Group]:
    """Without lines drawn under digits: a flat piece (at most UNDERLINE_FLAT as tall as wide) below another,
    apart from it, and at least as wide. A 2's foot drawn apart starts where its curve ends."""
    lines = []
    for line in groups:
        width = line.x1 - line.x0
        if line.y1 - line.y0 > UNDERLINE_FLAT * width:
            continue
        for digit in groups:
            height = digit.y1 - digit.y0
            gap = line.y0 - digit.y1
            if (digit is not line and height > line.y1 - line.y0 and UNDERLINE_GAP * height <= gap <= height
                    and line.x0 <= digit.x0 and digit.x1 <= line.x1):
                lines.append(line)
                break
    return [g for g in groups if not any(g is line for line in lines)]


def _merge_broken(groups: list[_Group]) -> list[_Group]:
    """Join neighbours that nearly touch and together are no wider than one digit (a stroke broken in two)."""
    groups = sorted(groups, key=lambda g: g.x0)
    merged = groups[:1]
    for group in groups[1:]:
        last = merged[-1]
        height = max(last.y1, group.y1) - min(last.y0, group.y0)
        gap = group.x0 - last.x1
        apart = max(group.y0 - last.y1, last.y0 - group.y1)  # > 0: one lies wholly above the other
        taller = max(last.y1 - last.y0, group.y1 - group.y0)
        width = max(last.x1, group.x1) - last.x0
        if gap <= 0.08 * height and apart <= COLUMN_GAP * taller and width <= 0.8 * height:
            last.absorb(group)
        else:
            merged.append(group)
    return merged


def _merge_all(groups: list[_Group]) -> _Group:
    whole = groups[0]
    for group in groups[1:]:
        whole.absorb(group)
    return whole


def _merge_columns(groups: list[_Group]) -> list[_Group]:
    """Merge pieces that share a column range: the bar of a 5, the halves of a broken 0 or 4, a stroke
    broken into dashes (merged again until nothing changes, as each merge makes a piece taller)."""
    groups = sorted(groups, key=lambda g: g.area, reverse=True)
    while True:
        merged: list[_Group] = []
        for group in groups:
            target = next((t for t in merged if _one_column(group, t)), None)
            if target is None:
                merged.append(group)
            else:
                target.absorb(group)
        if len(merged) == len(groups):
            return merged
        groups = merged


def _one_column(group: _Group, other: _Group) -> bool:
    """Whether two pieces share columns as the parts of one digit do, rather than digits on two lines (or
    a digit and a mark at the page's edge): not further apart than COLUMN_GAP of the taller one."""
    overlap = min(group.x1, other.x1) - max(group.x0, other.x0)
    narrower = min(group.x1 - group.x0, other.x1 - other.x0)
    beside = min(group.y1, other.y1) - max(group.y0, other.y0)  # shared rows (< 0: the gap between them)
    taller = max(group.y1 - group.y0, other.y1 - other.y0)
    if beside < -COLUMN_GAP * taller:
        return False  # far above or below: a digit on another line, or a mark at the page's edge
    # Same columns, or one piece above the other (a 5's detached bar): one digit.
    return overlap >= 0.5 * narrower or (overlap > 0 and beside < 0.3 * taller)


def _merge_caps(groups: list[_Group]) -> list[_Group]:
    """Join a short piece beside the upper half of a tall one: a 5's bar drawn with the pen lifted, which
    lands past the body's right edge, so no column is shared. A flat one (a bar, see BAR_FLAT) may land
    further off than one of another shape."""
    tallest = max(g.y1 - g.y0 for g in groups)
    tall = [g for g in groups if g.y1 - g.y0 >= 0.6 * tallest]
    kept = []
    for piece in groups:
        height = piece.y1 - piece.y0
        owner = None
        if height <= CAP_HEIGHT * tallest:
            near = [(max(piece.x0 - g.x1, g.x0 - piece.x1, 0), g) for g in tall
                    if piece.y1 <= g.y0 + 0.5 * (g.y1 - g.y0) and piece.y0 >= g.y0 - 0.5 * (g.y1 - g.y0)]
            reach = BAR_GAP if _bar(piece, tallest) else CAP_GAP
            near = [(gap, g) for gap, g in near if gap <= reach * (g.y1 - g.y0)]
            owner = min(near, key=lambda pair: pair[0])[1] if near else None
        if owner is None:
            kept.append(piece)
        else:
            owner.absorb(piece)
    return kept


def _drop_specks(groups: list[_Group], short_side: int) -> list[_Group]:
    """Drop marks too small to be a digit: a full stop between digits, a speck on a blank page, a dash (a
    ruled line broken by the threshold); and, beside a digit, a bar that belongs to none (no digit is a
    short flat stroke: on its own it was read as a "5" or a "7")."""
    floor = max(MIN_DIGIT_PIXELS, MIN_DIGIT_FRACTION * short_side)
    groups = [g for g in groups if max(g.x1 - g.x0, g.y1 - g.y0) >= floor
              and not (g.y1 - g.y0 < DASH_HEIGHT * floor and g.y1 - g.y0 < DASH_FLAT * (g.x1 - g.x0))]
    if not groups:
        return []
    tallest = max(g.y1 - g.y0 for g in groups)
    biggest = max(g.area for g in groups)
    groups = [g for g in groups if (g.y1 - g.y0) >= 0.4 * tallest or g.area >= 0.25 * biggest]
    bars = [_bar(g, tallest) for g in groups]
    return groups if all(bars) else [g for g, bar in zip(groups, bars, strict=True) if not bar]


def _bar(group: _Group, tallest: int) -> bool:
    """Whether a piece is flat and short, a bar or a dash (see BAR_FLAT)."""
    height = group.y1 - group.y0
    return height <= BAR_FLAT * (group.x1 - group.x0) and height <= CAP_HEIGHT * tallest


def _digit(labels: np.ndarray, count: int, group: _Group) -> Digit:
    window = labels[group.y0:group.y1, group.x0:group.x1]
    if len(group.labels) == 1:
        mask = window == group.labels[0]
    else:  # a lookup table: np.isin costs more than the whole label step on a small image
        member = np.zeros(count + 1, dtype=bool)
        member[group.labels] = True
        mask = member[window]
    box = (group.x0, group.y0, group.x1 - group.x0, group.y1 - group.y0)
    return Digit(box=box, mask=mask)


def split_candidates(digit: Digit) -> list[list[Digit]]:
    """Ways to read a wide piece of ink as two to four touching digits, left to right (a piece narrower than
    SPLIT_ASPECT only as a 1 and the digit it touches: see _one_beside). Each cut crosses a single short
    stroke, where touching digits meet, or two where digits written overlapping share columns; a cut through
    a loop (a 0, the bowl of a 6) is never made."""
    _, _, width, height = digit.box
    if width < SPLIT_ASPECT * height:
        return _one_beside(digit)
    counts = [2] + [3] * (width >= SPLIT_THREE * height) + [4] * (width >= SPLIT_FOUR * height)
    ways = [way for count, cuts in _cut_columns(digit.mask, counts).items()
            for way in itertools.combinations(cuts, count - 1)]
    found = []
    for way in ways:
        edges = (0, *way, width)
        parts = [_part(digit, start, stop) for start, stop in itertools.pairwise(edges)]
        if all(p is not None and p.box[3] >= PART_HEIGHT * height and p.box[2] <= PART_WIDTH * p.box[3]
               for p in parts):
            found.append(parts)
    return found


def _one_beside(digit: Digit) -> list[list[Digit]]:
    """Ways to read a piece narrower than SPLIT_ASPECT as a 1 and the digit it touches: at most one cut from
    each side (see ONE_ASPECT)."""
    mask, (_, _, width, height) = digit.mask, digit.box
    if width < ONE_ASPECT * height:
        return []
    ink, strokes = _column_profile(mask)
    inset, side = max(1, int(CUT_INSET * width)), int(ONE_SIDE * width)
    usable = (strokes == 1) & (ink <= CUT_STROKE * height)
    usable[:inset] = usable[side + 1:width - side - 1] = usable[width - inset:] = False
    if not usable.any():
        return []
    top = np.where(ink > 0, mask.argmax(axis=0), height)  # each column's ink, top and bottom
    bottom = np.where(ink > 0, height - mask[::-1].argmax(axis=0), 0)
    left = np.maximum.accumulate(bottom) - np.minimum.accumulate(top)  # of the ink up to each column
    right = (np.maximum.accumulate(bottom[::-1]) - np.minimum.accumulate(top[::-1]))[::-1]  # and from it
    usable[1:] &= (left[:-1] >= ONE_HEIGHT * height) & (right[1:] >= ONE_HEIGHT * height)  # not a 4's angle
    if not usable[1:].any():  # most digits stop here
        return []
    found = []
    near_one_first = (np.flatnonzero(usable[:side + 1]), (np.flatnonzero(usable[side + 1:]) + side + 1)[::-1])
    for one, columns in enumerate(near_one_first):  # least ink first, then nearest the 1
        for column in columns[np.argsort(ink[columns], kind="stable")][:ONE_TRIES]:
            parts = [_part(digit, 0, column), _part(digit, column, width)]
            if _straight(parts[one].mask, STACK_STROKE) and not _straight(parts[1 - one].mask, STACK_STROKE) \
                    and parts[1 - one].box[2] <= PART_WIDTH * parts[1 - one].box[3]:
                found.append(parts)
                break
    return found


def _cut_columns(mask: np.ndarray, counts: list[int]) -> dict[int, list[int]]:
    """For each count of digits, up to CUTS columns, least ink first and apart from each other, that cross
    one stroke, or two where no loop lies between them near where that many digits side by side would meet,
    with little ink."""
    height, width = mask.shape
    ink, strokes = _column_profile(mask)
    loops = (ndimage.binary_fill_holes(mask) & ~mask).any(axis=0)
    inset = max(1, int(CUT_INSET * width))
    found = {}
    for count in counts:
        meet = np.zeros(width, dtype=bool)
        for j in range(1, count):
            centre, near = j * width / count, CUT_NEAR * width / count
            meet[max(0, math.ceil(centre - near)):math.floor(centre + near) + 1] = True
        usable = ((strokes <= 1) | ((strokes == 2) & ~loops & meet)) & (ink <= CUT_STROKE * height)
        usable[:inset] = usable[width - inset:] = False
        columns = np.flatnonzero(usable)
        picked: list[int] = []
        for column in columns[np.argsort(ink[columns], kind="stable")]:
            if all(abs(column - other) > CUT_INSET * height for other in picked):
                picked.append(int(column))
                if len(picked) == CUTS:
                    break
        found[count] = sorted(picked)
    return found


def _column_profile(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each column of a piece, how many of its pixels are ink, and how many strokes it crosses."""
    return mask.sum(axis=0), (mask[1:] & ~mask[:-1]).sum(axis=0) + mask[0]


def _part(digit: Digit, start: int, stop: int) -> Digit | None:
    """The ink of `digit` between two columns, boxed tightly; None if there is none."""
    x, y, _, _ = digit.box
    mask = digit.mask[:, start:stop]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    mask = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return Digit(box=(x + start + int(cols[0]), y + int(rows[0]), mask.shape[1], mask.shape[0]), mask=mask)
