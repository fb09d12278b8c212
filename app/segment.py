"""Split an ink mask into digits: connected components, pieces of one digit merged, specks dropped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
MIN_DIGIT_PIXELS = 6  # a digit is at least this tall or wide in the working image
MIN_DIGIT_FRACTION = 0.04  # ... and at least this fraction of the image's shorter side


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


def find_digits(mask: np.ndarray, *, single: bool = False) -> list[Digit]:
    """The digits in an ink mask, left to right; an empty list when there is no digit."""
    labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    if count == 0:
        return []
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    groups = []
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = found
        groups.append(_Group(cols.start, rows.start, cols.stop, rows.stop, [index], int(areas[index])))
    largest = max(g.area for g in groups)
    # Dust: tiny next to the largest piece of ink (a JPEG speck, a fleck of paper).
    groups = [g for g in groups if g.area >= max(3, 0.02 * largest)]
    if not groups:
        return []
    groups = [_merge_all(groups)] if single else _merge_broken(_merge_caps(_merge_columns(groups)))
    groups = _drop_specks(groups, min(mask.shape))
    return [_digit(labels, count, g) for g in sorted(groups, key=lambda g: g.x0 + g.x1)]


def _merge_broken(groups: list[_Group]) -> list[_Group]:
    """Join neighbours that nearly touch and together are no wider than one digit (a stroke broken in two)."""
    groups = sorted(groups, key=lambda g: g.x0)
    merged = groups[:1]
    for group in groups[1:]:
        last = merged[-1]
        height = max(last.y1, group.y1) - min(last.y0, group.y0)
        gap = group.x0 - last.x1
        width = max(last.x1, group.x1) - last.x0
        if gap <= 0.08 * height and width <= 0.8 * height:
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
    """Merge pieces that share a column range: the bar of a 5, the halves of a broken 0 or 4."""
    groups = sorted(groups, key=lambda g: g.area, reverse=True)
    merged: list[_Group] = []
    for group in groups:
        for target in merged:
            overlap = min(group.x1, target.x1) - max(group.x0, target.x0)
            narrower = min(group.x1 - group.x0, target.x1 - target.x0)
            beside = min(group.y1, target.y1) - max(group.y0, target.y0)  # shared rows
            taller = max(group.y1 - group.y0, target.y1 - target.y0)
            # Same columns, or one piece above the other (a 5's detached bar): one digit.
            if overlap >= 0.5 * narrower or (overlap > 0 and beside < 0.3 * taller):
                target.absorb(group)
                break
        else:
            merged.append(group)
    return merged


def _merge_caps(groups: list[_Group]) -> list[_Group]:
    """Join a short piece beside the upper half of a tall one: a 5's bar drawn with the pen lifted, which
    lands past the body's right edge, so no column is shared."""
    tallest = max(g.y1 - g.y0 for g in groups)
    tall = [g for g in groups if g.y1 - g.y0 >= 0.6 * tallest]
    kept = []
    for piece in groups:
        height = piece.y1 - piece.y0
        owner = None
        if height <= 0.45 * tallest:
            near = [(max(piece.x0 - g.x1, g.x0 - piece.x1, 0), g) for g in tall
                    if piece.y1 <= g.y0 + 0.5 * (g.y1 - g.y0) and piece.y0 >= g.y0 - 0.5 * (g.y1 - g.y0)]
            near = [(gap, g) for gap, g in near if gap <= 0.35 * (g.y1 - g.y0)]
            owner = min(near, key=lambda pair: pair[0])[1] if near else None
        if owner is None:
            kept.append(piece)
        else:
            owner.absorb(piece)
    return kept


def _drop_specks(groups: list[_Group], short_side: int) -> list[_Group]:
    """Drop marks too small to be a digit: a full stop between digits, a speck on a blank page."""
    floor = max(MIN_DIGIT_PIXELS, MIN_DIGIT_FRACTION * short_side)
    groups = [g for g in groups if max(g.x1 - g.x0, g.y1 - g.y0) >= floor]
    if not groups:
        return []
    tallest = max(g.y1 - g.y0 for g in groups)
    biggest = max(g.area for g in groups)
    return [g for g in groups if (g.y1 - g.y0) >= 0.4 * tallest or g.area >= 0.25 * biggest]


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
