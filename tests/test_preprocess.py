"""The preprocessing pipeline on real image files: what reaches the model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from app import preprocess, segment
from app.errors import NoDigitFound, NotAnImage, UploadTooLarge

from .conftest import DATA


def prepared(name: str, **kwargs) -> preprocess.Prepared:
    return preprocess.prepare((DATA / name).read_bytes(), **kwargs)


@pytest.mark.parametrize("name", [
    "white_on_black_4.png", "black_on_white_2.png", "rgb_5.png", "exif_rotated_7.jpg",
    "canvas_3.png", "photo_grey_ink_8.jpg", "typed_7.png", "animated.gif", "digit_0.png",
])
def test_every_kind_of_image_becomes_one_mnist_like_digit(name):
    result = prepared(name)
    assert result.batch.shape == (1, 28, 28, 1)
    assert result.batch.dtype == np.float32
    digit = result.batch[0, ..., 0]
    assert digit.min() >= 0.0 and digit.max() == pytest.approx(1.0)
    # MNIST's convention: light ink on a black background, with a black margin all round.
    assert digit[0].max() == 0 and digit[-1].max() == 0 and digit[:, 0].max() == 0 and digit[:, -1].max() == 0
    assert 0.05 < (digit > 0.3).mean() < 0.45
    # The digit fits a 20 px box and its centre of mass sits at the centre, as in MNIST.
    rows, cols = np.nonzero(digit)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21
    cy, cx = ndimage.center_of_mass(digit)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0


def test_dark_and_light_ink_give_the_same_polarity():
    light = prepared("white_on_black_4.png").batch[0, ..., 0]
    dark = prepared("black_on_white_2.png").batch[0, ..., 0]
    for digit in (light, dark):
        assert digit.mean() < 0.4  # mostly black background, never an inverted white square


def test_mnist_digit_passes_through_nearly_unchanged():
    original = np.asarray(Image.open(DATA / "digit_0.png"), dtype=np.float32) / 255.0
    digit = prepared("digit_0.png").batch[0, ..., 0]
    assert np.corrcoef(original.ravel(), digit.ravel())[0, 1] > 0.9


def test_exif_orientation_is_applied_and_box_is_in_upright_pixels():
    with Image.open(DATA / "exif_rotated_7.jpg") as image:
        stored = image.size
        assert image.getexif().get(0x0112) in (5, 6, 7, 8)
    result = prepared("exif_rotated_7.jpg")
    assert result.size == (stored[1], stored[0])
    x, y, w, h = result.boxes[0]
    assert 0 <= x and x + w <= result.size[0] and 0 <= y and y + h <= result.size[1]
    assert h > w  # an upright 7 is taller than wide; sideways it would not be


def test_iphone_heic_photo_taken_sideways_is_read_upright():
    data = (DATA / "iphone_photo_4.heic").read_bytes()
    assert data[4:12] == b"ftypheic" and b"irot" in data  # stored turned, with the turn to undo in the file
    image = preprocess.decode(data, max_pixels=40_000_000)
    assert image.format == "HEIF" and image.getexif().get(0x0112, 1) == 1  # turned once, not twice
    result = preprocess.prepare(data)
    assert result.size == (1200, 900)
    [(x, y, w, h)] = result.boxes
    assert h > w and 0 <= x and x + w <= 1200 and 0 <= y and y + h <= 900  # an upright 4, in upright pixels


def test_heic_whose_header_claims_a_huge_image_is_refused_before_decoding():
    data = bytearray((DATA / "iphone_photo_4.heic").read_bytes())
    size = data.find(b"ispe") + 8  # the image's width and height
    data[size:size + 8] = (30000).to_bytes(4, "big") * 2
    with pytest.raises(UploadTooLarge, match="megapixels"):
        preprocess.decode(bytes(data), max_pixels=40_000_000)


def test_avif_photo_is_decoded():
    data = (DATA / "photo_6.avif").read_bytes()
    assert preprocess.decode(data, max_pixels=40_000_000).format == "AVIF"
    assert len(prepared("photo_6.avif").boxes) == 1


def _as_mode(mode: str) -> bytes:
    """black_on_white_2.png in another pixel format, as a file of a format that stores it."""
    with Image.open(DATA / "black_on_white_2.png") as image:
        gray = image.convert("L")
    levels = np.asarray(gray, dtype=np.float64)
    converted, fmt = {
        "P": (gray.convert("RGB").convert("P"), "PNG"),
        "LA": (gray.convert("LA"), "PNG"),
        "I;16": (Image.fromarray((levels * 257).astype(np.uint16)), "PNG"),
        "I": (Image.fromarray((levels * 100_000).astype(np.int32), "I"), "TIFF"),
        "F": (Image.fromarray((levels / 255).astype(np.float32), "F"), "TIFF"),
        "F signed": (Image.fromarray((levels - 255).astype(np.float32), "F"), "TIFF"),
        "CMYK": (gray.convert("CMYK"), "JPEG"),
        "1": (gray.convert("1"), "BMP"),
    }[mode]
    buffer = io.BytesIO()
    converted.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["P", "LA", "I;16", "I", "F", "F signed", "CMYK", "1"])
def test_every_pixel_format_gives_the_same_model_input(mode):
    """Palette, grey with alpha, 16- and 32-bit, floating point (0-1 as numpy saves it, or signed), CMYK and
    1-bit images of the same page reach the model as the 8-bit grey original does."""
    original = prepared("black_on_white_2.png").batch[0, ..., 0]
    result = preprocess.prepare(_as_mode(mode))
    assert len(result.boxes) == 1
    assert np.corrcoef(original.ravel(), result.batch[0, ..., 0].ravel())[0, 1] > 0.9


def test_pixels_that_are_not_numbers_do_not_spoil_a_float_image():
    with Image.open(DATA / "black_on_white_2.png") as image:
        levels = np.asarray(image.convert("L"), dtype=np.float32) / 255
    levels[0, :5] = np.nan
    levels[-1, -5:] = np.inf
    buffer = io.BytesIO()
    Image.fromarray(levels, "F").save(buffer, format="TIFF")
    assert len(preprocess.prepare(buffer.getvalue()).boxes) == 1


@pytest.mark.parametrize("name", ["shaded_edge_0.jpg", "shaded_corner_3.jpg"])
def test_shading_against_the_border_is_not_a_digit(name):
    """A photo darker towards a side or a corner: the shading crosses the threshold there, but reaches the
    strokes' level only right against the border. Only the digit is found, away from the border."""
    result = prepared(name)
    [(x, y, w, h)] = result.boxes
    width, height = result.size
    assert 0 < x and x + w < width and 0 < y and y + h < height


def test_a_row_cropped_tight_keeps_the_ones_flush_against_its_sides():
    """A 1 at either end of a row cropped to its ink touches the side along its length, as the desk beside
    a page does, and spans the image's height, as a margin line does; the other digits span it too."""
    result = prepared("cropped_row_1921.png")
    assert len(result.boxes) == 4
    first, last = result.boxes[0], result.boxes[-1]
    assert first[0] == 0 and last[0] + last[2] == result.size[0]


def test_transparent_canvas_reads_as_ink_on_paper():
    with Image.open(DATA / "canvas_3.png") as image:
        assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0
    digit = prepared("canvas_3.png").batch[0, ..., 0]
    assert (digit > 0.3).mean() < 0.45  # strokes, not a filled square


@pytest.mark.parametrize("name", ["cutout_white_7.png", "cutout_near_white_5.png"])
def test_white_cut_out_around_dark_ink_is_white_paper_though_the_soft_edges_stayed(name):
    """Only white (or near-white) was made transparent: the strokes' light, soft edges are opaque. More
    pixels are edge than core, so the opaque pixels' median looked like light ink, and the paper was laid
    black under them: the edges became the digit ("8")."""
    with Image.open(DATA / name) as image:
        gray = np.asarray(preprocess.gray_image(image))
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
    assert (gray[alpha == 0] == 255).all()  # the cut-out paper is white again
    digit = prepared(name).batch[0, ..., 0]
    centre = digit[8:20, 8:20]
    assert centre.max() > 0.9 and (digit > 0.5).mean() < 0.3  # strokes bright on black, as MNIST's


def test_a_number_written_small_on_a_page_photographed_whole_is_read_from_closer():
    """70 px digits on a 3000x2250 photo are 7 px tall at the work size. The first reading found a few of
    them, or none; the region read closer now takes in the ink beside what it found, at up to ZOOM_SIZE."""
    result = prepared("number_on_photo_9612507011.jpg")
    assert len(result.boxes) == 10
    xs = [x for x, _, _, _ in result.boxes]
    assert xs == sorted(xs)
    assert all(55 <= h <= 100 for _, _, _, h in result.boxes)  # in the photo's pixels


def test_the_region_around_a_seed_with_no_ink_beside_it_is_the_seed_with_a_margin():
    gray = np.full((100, 100), 240.0, np.float32)
    gray[10:30, 10:14] = 20.0  # ink far from the seed
    assert preprocess.ink_region(gray, seed=(80, 90, 80, 90)) == (75, 75, 95, 95)


def test_row_is_split_into_digits_left_to_right():
    result = prepared("row_2025.png")
    assert result.batch.shape[0] == 4
    xs = [box[0] for box in result.boxes]
    assert xs == sorted(xs)
    for (x, _, w, _), (next_x, _, _, _) in zip(result.boxes, result.boxes[1:], strict=False):
        assert x + w <= next_x + 2  # neighbours do not overlap


def test_single_mode_reads_the_row_as_one_box():
    result = prepared("row_2025.png", single=True)
    assert result.batch.shape[0] == 1


@pytest.mark.parametrize("name", ["blank_page.png", "speck.png", "shaded_blank_page.jpg"])
def test_no_ink_raises_no_digit_found(name):
    with pytest.raises(NoDigitFound):
        prepared(name)


def test_shading_is_not_ink_but_a_blurred_faint_stroke_is():
    # A blank page darker towards one side, as strong as faint ink, rises over tens of pixels: no ink.
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    shaded = 235.0 - 70.0 * (xx / 319.0) ** 3
    with pytest.raises(NoDigitFound):
        preprocess.ink_image(shaded)
    # The same page with a faint, blurred pen stroke on it: its edge rises over a few pixels. It is read,
    # alone (the shading at the border goes as noise).
    pen = ((abs(xx - 120) < 3) & (abs(yy - 120) < 60)).astype(np.float32)
    stroke = shaded - 40.0 * ndimage.gaussian_filter(pen, 2.0)
    [(x, y, w, h)] = preprocess.prepare_gray(stroke.astype(np.float32)).boxes
    assert x <= 117 and x + w >= 123 and h >= 110
    # A digit enlarged smoothly on a computer has edges as soft as shading, but its paper is exactly flat:
    # no photo, so no shading. The same soft stroke on a page with a photo's noise is ink too if it is as
    # dark as a pen's (200 grey levels: out of focus), and shading if it is as faint as shading (60).
    blur = ndimage.gaussian_filter(pen, 8.0) / ndimage.gaussian_filter(pen, 8.0).max()
    soft = 255.0 - 200.0 * blur
    assert preprocess.ink_image(np.rint(soft)).max() == 255
    noise = np.random.default_rng(0).normal(0, 2.0, soft.shape)
    assert preprocess.ink_image((soft + noise).astype(np.float32)).max() == 255
    with pytest.raises(NoDigitFound):
        preprocess.ink_image((255.0 - 60.0 * blur + noise).astype(np.float32))


def test_a_soft_shadow_across_the_photo_is_not_ink_but_a_stroke_over_it_is():
    # A hand's shadow across a photographed page crosses the threshold: a band from side to side whose ink
    # falls off over tens of pixels. Cut again higher, it is still soft, and goes; a stroke across the photo,
    # or a digit darker than the shadow it lies in, falls off within a pixel or two, and stays.
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    band = 120.0 * np.exp(-(((xx - yy) / np.sqrt(2) - 20) / 30.0) ** 2)  # ink, the paper at 0
    assert not segment.without_shadows(band >= 75, band).any()
    stroke = band.copy()
    stroke[100:170, 150:156] = 255.0  # a 1 in the shadow
    kept = segment.without_shadows(stroke >= 75, stroke)
    assert kept[100:170, 150:156].all() and kept.sum() <= 1.2 * 70 * 6
    line = np.zeros_like(band)
    line[118:124] = 255.0  # a bar across a tight crop, sharp
    assert segment.without_shadows(line >= 75, line).sum() == (line >= 75).sum()


def test_ink_too_dark_for_a_shadow_is_never_peeled_as_one():
    # A digit cut close to its ink and enlarged (or out of focus) touches the border with edges as soft as a
    # shadow's; peeling it layer by layer would leave nothing. Ink at `strong` or more stays.
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    soft = 255.0 * np.exp(-((xx - 160) / 40.0) ** 2)  # a wide soft stroke from the top to the bottom
    assert not segment.without_shadows(soft >= 75, soft).any()
    kept = segment.without_shadows(soft >= 75, soft, strong=150.0)
    assert kept.sum() == (soft >= 150).sum() > 0


def test_a_soft_shadow_over_a_corner_or_fading_out_is_not_ink_but_a_cut_off_stroke_is():
    # A shadow need not cross the whole photo: across a corner it touches two sides that are not opposite;
    # coming in from one side, it may fade before it reaches another. Both are peeled away as above.
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    corner = 120.0 * np.exp(-(((xx + yy) / np.sqrt(2) - 70) / 30.0) ** 2)
    assert not segment.without_shadows(corner >= 75, corner).any()
    fading = 120.0 * np.exp(-((yy - 120) / 25.0) ** 2) * np.clip(1.3 - xx / 200, 0, 1)
    assert (fading >= 75)[:, 0].any() and not (fading >= 75)[:, -1].any()
    assert not segment.without_shadows(fading >= 75, fading).any()
    stroke = np.zeros_like(corner)
    stroke[0:60, 100:106] = 255.0  # a digit's stroke cut off by the photo's top edge, sharp
    assert segment.without_shadows(stroke >= 75, stroke).sum() == (stroke >= 75).sum()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_hairlines_on_a_large_clean_canvas_are_read_but_a_speck_is_not():
    canvas = np.full((1500, 2000), 255, np.uint8)
    line, speck = canvas.copy(), canvas.copy()
    line[300:1200, 1000] = 0  # a 1 drawn with a 1 px pencil: averaged down 7 times, it fades away
    speck[700:705, 900:905] = 0
    [(x, y, w, h)] = preprocess.prepare(_png(line)).boxes
    assert x <= 1000 < x + w and y <= 300 and y + h >= 1200
    for blank in (canvas, speck):
        with pytest.raises(NoDigitFound):
            preprocess.prepare(_png(blank))


@pytest.mark.parametrize("data", [b"", b"hello, not an image", (DATA / "row_2025.png").read_bytes()[:200]])
def test_unreadable_files_raise_not_an_image(data):
    with pytest.raises(NotAnImage):
        preprocess.prepare(data)


def test_threshold_is_a_setting():
    loose = prepared("photo_grey_ink_8.jpg", threshold=30).batch
    strict = prepared("photo_grey_ink_8.jpg", threshold=200).batch
    assert (strict > 0).sum() < (loose > 0).sum()


def test_pixel_limit_guards_against_decompression_bombs():
    with pytest.raises(UploadTooLarge):
        preprocess.prepare((DATA / "black_on_white_2.png").read_bytes(), max_pixels=100)


def test_an_mnist_sized_image_is_one_digit_even_in_pieces():
    # A real MNIST test 5 whose bar floats free of its body: two pieces of ink, one digit.
    result = prepared("detached_bar_5.png")
    assert result.batch.shape[0] == 1 and result.boxes[0][2] >= 10


def test_a_bar_drawn_apart_beside_the_top_of_a_digit_is_part_of_it():
    # A real MNIST test 5 drawn on a canvas: the bar, a separate stroke, ends past the body's right edge.
    result = prepared("canvas_lifted_bar_5.png")
    assert result.batch.shape[0] == 1
    x, y, w, h = result.boxes[0]
    assert w >= 0.6 * h  # the box spans the bar as well as the body


@pytest.mark.parametrize(("size", "one"), [((28, 28), True), ((16, 16), True), ((32, 30), True),
                                           ((56, 28), False), ((33, 33), False), ((200, 200), False)])
def test_only_small_squarish_images_are_taken_as_one_digit(size, one):
    assert preprocess.holds_one_digit(*size) is one


@pytest.fixture
def reductions(monkeypatch):
    """The factors each upload was reduced by, reading after reading."""
    factors = []
    real = preprocess.to_gray

    def spy(image, factor=0):
        gray, scale = real(image, factor)
        factors.append(round(scale))
        return gray, scale

    monkeypatch.setattr(preprocess, "to_gray", spy)
    return factors


def test_a_large_photo_is_read_once_at_a_coarse_size_when_its_digit_is_big(reductions):
    prepared = preprocess.prepare((DATA / "photo_big_digit_9.jpg").read_bytes())  # 1200x900, digit 520 px
    assert reductions == [8]  # 150x113 px: a quarter of the pixels of 300x225
    [(x, y, w, h)] = prepared.boxes
    assert prepared.size == (1200, 900)
    assert abs(x + w / 2 - 600) < 30 and abs(y + h / 2 - 450) < 30 and 480 <= h <= 540  # in upload pixels


def test_a_small_digit_on_a_large_photo_is_read_again_at_the_finer_size(reductions):
    prepared = preprocess.prepare((DATA / "photo_small_digit_4.jpg").read_bytes())  # 1600x1200, digit 110 px
    assert reductions == [8, 4]  # 14 px tall at 200x150: too small to trust, so read again at 400x300
    [(x, y, w, h)] = prepared.boxes
    assert abs(x + w / 2 - 800) < 20 and abs(y + h / 2 - 600) < 20 and 95 <= h <= 120
    crop = prepared.batch[0, ..., 0]
    assert crop.max() == pytest.approx(1.0) and 60 < (crop > 0.5).sum() < 250  # strokes, not a blob


def test_a_digit_of_ordinary_size_on_a_scanned_sheet_is_read_from_closer(reductions):
    # A4 at 300 dpi, black and white (CCITT group 4 TIFF), a 3 60 px tall: 5 px at the work size.
    prepared = preprocess.prepare((DATA / "scan_a4_3.tif").read_bytes())
    assert reductions == [19, 11, 1]  # coarse, work size, then the region around the ink at full size
    [(x, y, w, h)] = prepared.boxes
    assert prepared.size == (2480, 3508)
    assert abs(x - 1510) <= 3 and abs(y - 820) <= 3 and 55 <= h <= 62  # in the scan's own pixels
    crop = prepared.batch[0, ..., 0]
    assert 60 < (crop > 0.5).sum() < 250  # strokes, not a blurred dot


def test_pages_with_no_coarser_size_to_try_are_read_once(reductions):
    for name in ("canvas_3.png", "exif_rotated_7.jpg", "row_2025.png", "digit_7.png"):  # shorter side < 512
        preprocess.prepare((DATA / name).read_bytes())
    assert len(reductions) == 4


def test_ruled_notebook_lines_and_margin_are_not_part_of_the_digit():
    # A pencil 3 across three rulings, nearly as dark as it, on a photo turned 2 degrees.
    prepared = preprocess.prepare((DATA / "ruled_paper_3.jpg").read_bytes())
    [(x, y, w, h)] = prepared.boxes  # one digit, boxed tightly: the lines spanning the page are gone
    assert abs(x - 198) <= 6 and abs(y - 114) <= 6 and w < 80 and h < 120


def test_the_desk_around_a_photographed_page_is_not_a_digit():
    prepared = preprocess.prepare((DATA / "desk_photo_6.jpg").read_bytes())  # desk on three sides
    [(x, y, w, h)] = prepared.boxes
    assert 180 <= x and x + w <= 310 and 100 <= y and y + h <= 260


def test_a_sticky_note_on_a_desk_is_read_as_paper_and_a_bold_light_digit_is_not_a_page():
    # The desk fills most of the photo, so it is the image's median: the yellow note was taken for ink.
    prepared = preprocess.prepare((DATA / "sticky_note_9.jpg").read_bytes())
    [(x, y, w, h)] = prepared.boxes
    # The note is x 165-375, y 38-248 (210 px square): the box is the 9 written on it, not the note.
    assert 165 < x and x + w < 375 and 38 < y and y + h < 248 and 80 <= h <= 160
    gray = np.full((300, 300), 40.0)
    yy, xx = np.mgrid[0:300, 0:300]
    ring = np.hypot(yy - 150, xx - 150)
    gray[ring < 110] = 230.0  # a bold light 0 on a dark board: its hole is round, not a pen stroke
    gray[ring < 25] = 40.0
    ink = preprocess.ink_image(gray)
    assert preprocess.light_page(gray, ink >= 75) is None
    gray[140:160, 100:200] = 40.0  # a stroke across it: still not a page, whose outline is a rectangle
    ink = preprocess.ink_image(gray)
    assert preprocess.light_page(gray, ink >= 75) is None


def test_a_sticky_note_turned_on_the_desk_is_cut_out_along_its_edges():
    # Turned 20 degrees, the note fills too little of its upright box to pass for a page by that box; the
    # smallest box around it at any angle is what it must fill. Its corners' desk is painted the note's level.
    prepared = preprocess.prepare((DATA / "sticky_note_turned_9.jpg").read_bytes())
    [(x, y, w, h)] = prepared.boxes
    assert 160 < x and x + w < 380 and 30 < y and y + h < 260 and 70 <= h <= 160  # the 9, not the note
    gray = np.full((300, 400), 60.0)
    yy, xx = np.mgrid[0:300, 0:400]
    turn = np.deg2rad(20)
    along = (xx - 200) * np.cos(turn) + (yy - 150) * np.sin(turn)
    across = (yy - 150) * np.cos(turn) - (xx - 200) * np.sin(turn)
    note = (np.abs(along) < 90) & (np.abs(across) < 90)
    gray[note] = 235.0
    gray[140:160, 160:240] = 30.0  # a stroke written on it
    mask = preprocess.ink_image(gray) >= 75
    rows, cols = np.nonzero(note)
    assert mask.sum() < 0.7 * (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # under the upright box's 70%
    (px, py, pw, ph), cut = preprocess.light_page(gray, mask)
    assert cut.shape == (ph, pw) and abs(pw - (np.ptp(cols) + 1)) <= 2 and abs(ph - (np.ptp(rows) + 1)) <= 2
    assert cut[0, 0] == cut[-1, -1] == pytest.approx(235.0)  # the desk in the box's corners: the note's level
    assert cut.min() == 30.0  # the writing stays


def test_a_digit_written_up_to_the_pages_edge_is_cut_from_the_desk_it_touches():
    # The desk shows on three sides; the 3's top touches the page's edge, so desk and digit were one piece,
    # all the ink, and read whole as a "7". The page (the largest paper, convex) is what lies inside it.
    for name in ("page_edge_3.jpg", "page_edge_5.jpg"):  # the 5: other ink on the page, so not all of it
        [(x, y, w, h)] = preprocess.prepare((DATA / name).read_bytes()).boxes
        width, height = Image.open(DATA / name).size
        assert w < width / 2 and h < height / 2
    mask = np.zeros((200, 300), bool)
    mask[:20], mask[:, :25], mask[:, -30:] = True, True, True  # the desk along three sides
    mask[20:90, 140:146] = True  # a stroke down from the page's top edge
    mask[85:91, 110:170] = True
    for speck in (False, True):  # all the ink, or some apart from it
        mask[150:153, 200:203] = speck
        kept = segment.without_surroundings(mask)
        assert kept[40:90, 140:146].all() and kept[85:91, 110:170].all()
        assert not kept[:15].any() and not kept[:, :20].any() and not kept[:, -25:].any()
    # A 7 cropped tight is also ink along two sides, but its paper is the gaps between its strokes.
    seven = np.zeros((200, 140), bool)
    seven[:25, :] = True
    for row in range(25, 200):
        column = 140 - 25 - (row - 25) * 60 // 175
        seven[row, column:column + 25] = True
    assert segment.without_surroundings(seven).sum() == seven.sum()


def test_a_digit_joined_to_the_desk_by_the_pages_shaded_edge_is_kept_without_the_shade():
    # A page turned on a desk, shaded along its top edge, deepest mid-way: a 1 written up to that edge was
    # one piece with the shade and the desk, and the shade, inside the page's outline, touched the outline
    # all along: not a digit. All the ink was kept and read as one digit, or none of it.
    mask = np.zeros((150, 250), bool)
    for x in range(250):
        edge = 24 - x * 20 // 250  # the page's top edge, turned
        mask[:edge + round(6 * np.sin(np.pi * x / 250)), x] = True
    mask[:, :12] = True  # the desk beside the page too
    mask[10:100, 120:125] = True  # the 1
    kept = segment.without_surroundings(mask)
    assert kept[30:100, 120:125].all()
    assert not kept[:, :115].any() and not kept[:, 130:].any() and not kept[:20].any()


def test_a_page_cut_into_strips_by_ruled_lines_joining_the_desk_is_still_a_page():
    mask = np.zeros((200, 240), bool)
    mask[:15], mask[-15:], mask[:, :15], mask[:, -15:] = True, True, True, True  # the desk all around
    for y in range(35, 185, 20):
        mask[y:y + 2] = True  # ruled lines from one side of the desk to the other
    mask[15:90, 120:125] = True  # a 1 written down from the page's top edge
    mask[150:152, 60:62] = True  # and a speck apart from the rest
    kept = segment.without_surroundings(mask)  # the lines, on the page, go later (without_lines)
    assert kept[30:90, 120:125].all()
    assert not kept[:12].any() and not kept[:, :12].any() and not kept[:, -12:].any()
    [digit] = segment.find_digits(mask, ink=np.where(mask, 200.0, 10.0))
    assert digit.box[0] >= 115 and digit.box[2] <= 15 and digit.box[3] >= 60


def test_a_short_wedge_of_desk_along_a_side_goes_but_a_stroke_cut_by_the_side_stays():
    # A page turned slightly leaves a wedge of desk along a fifth of its right side, a few px deep.
    [(x, y, w, h)] = preprocess.prepare((DATA / "desk_wedge_7.jpg").read_bytes()).boxes
    assert x + w < 0.9 * Image.open(DATA / "desk_wedge_7.jpg").width
    mask = np.zeros((200, 300), bool)
    for row in range(120, 150):  # along 15% of the right side, 1-5 px deep
        mask[row, 300 - 1 - (row - 120) // 7:] = True
    mask[40:100, 100:106] = mask[40:46, 100:150] = True  # a digit's strokes
    assert not segment.without_surroundings(mask)[:, 290:].any()
    mask[:, 290:] = False
    mask[150:165, 260:] = True  # a bar cut by the side: it runs into the image, across the side
    assert segment.without_surroundings(mask)[150:165, 260:].all()


def test_a_corner_of_desk_goes_but_a_digit_in_a_corner_stays():
    # A page set off-centre leaves the desk's corner in the photo: an L along 40% of two sides, too short
    # along either to be the frame around a page. It was read as a "1" beside the digit.
    mask = np.zeros((200, 300), bool)
    mask[120:, -30:] = mask[-15:, 180:] = True  # the desk's corner, bottom right
    mask[40:110, 100:106] = mask[40:46, 80:130] = True  # a digit
    kept = segment.without_surroundings(mask)
    assert not kept[110:, 170:].any()
    assert (kept == mask)[:100, :160].all()
    # The shade in a page's corner: a triangle, longer down the side than along the top.
    mask[110:] = False
    for row in range(70):
        mask[row, 300 - (70 - row) // 3:] = True
    assert not segment.without_surroundings(mask)[:80, 260:].any()
    # A digit's bar reaching a corner, cropped close, runs into the image: its stroke leaves the sides.
    mask[:80, 260:] = False
    mask[:12, 200:] = True
    for row in range(12, 200):
        column = 300 - 12 - (row - 12) * 120 // 188
        mask[row, column:column + 12] = True
    assert (segment.without_surroundings(mask) == mask).all()


def test_ruled_lines_across_a_page_beside_a_desk_or_cut_short_by_shade_go():
    # Lines across the page but not across the photo (a desk beside the page), and lines cut short where the
    # page's corner is shaded, were left as dashes read as digits.
    for name, digit in (("ruled_beside_desk_6.jpg", (236, 108, 122, 190)),
                        ("shaded_ruling_9.jpg", (339, 279, 84, 183))):
        [box] = prepared(name).boxes
        assert all(abs(got - want) <= 3 for got, want in zip(box, digit, strict=True))
    mask = np.zeros((200, 300), bool)
    mask[:, :40] = True  # the desk
    for y in range(40, 160, 20):
        mask[y:y + 2, 44:] = True  # ruling from the page's edge to the photo's
    mask[60:140, 150:156] = True  # a 1
    [digit] = segment.find_digits(mask, ink=np.where(mask, 200.0, 10.0))
    assert digit.box[2] <= 10 and digit.box[3] >= 70
    # Without ruling, a digit's bars that span its own width stay: a Z-shaped 2 cropped with a margin.
    two = np.zeros((120, 100), bool)
    two[20:24, 10:90] = two[96:100, 10:90] = True
    for row in range(24, 96):
        column = 86 - (row - 24) * 76 // 72
        two[row, column:column + 4] = True
    assert (segment.without_lines(two) == two).all()


def test_ruled_lines_a_broad_stroke_crosses_on_a_turned_page_go():
    # A marker 7 crossing two ruled lines of a page turned 3 degrees joined them into one piece; parted again
    # on each side of the stroke, a line had moved rows by the other side and was taken for two short pieces
    # of something else, so both lines stayed, through the digit ("3").
    mask = np.zeros((240, 300), bool)
    columns = np.arange(300)
    for top in range(20, 230, 28):
        for thick in range(2):
            rows = np.round(top + thick + 0.05 * columns).astype(int)
            inside = rows < 240
            mask[rows[inside], columns[inside]] = True
    mask[70:160, 120:180] = True  # the broad stroke, 60 px wide, across two lines
    kept = segment.without_lines(mask, np.where(mask, 200.0, 10.0))
    assert kept[70:160, 120:180].all()
    assert not kept[:, :115].any() and not kept[:, 185:].any()


def test_dashes_left_of_ruled_lines_are_not_digits():
    # A turned page's ruled lines, cut into dashes 1-2 px tall by the threshold, were read as rows of 5s.
    mask = np.zeros((240, 260), bool)
    for y in range(40, 230, 20):
        for x in range(20, 240, 25):
            mask[y:y + 2, x:x + 12] = True
    assert segment.find_digits(mask) == []
    mask[60:120, 120:126] = mask[60:66, 100:126] = True  # a 7, 60 px tall, over them
    [digit] = segment.find_digits(mask)
    assert digit.box[3] >= 60


def test_a_sliver_of_desk_along_a_side_goes_but_a_digits_bar_at_the_edge_stays():
    mask = np.zeros((200, 200), bool)
    mask[80:130, 90:95] = mask[80:84, 80:110] = True  # a digit in the middle
    for row in range(60, 140):  # the desk beside a page turned slightly: a wedge 1-8 px wide, 80 px long
        mask[row, 200 - 1 - (row - 60) // 10:] = True
    mask[0:5, 20:70] = True  # a bar along the top edge, a quarter of it: a 5's, cut close
    mask[5:40, 20:25] = True
    kept = segment.without_surroundings(mask)
    assert not kept[:, 190:].any()  # the wedge went
    assert (kept == mask)[:, :190].all()  # the digit and the bar did not


@pytest.mark.parametrize(("name", "digit_box"), [
    ("vignette_0.jpg", (9, 467, 53, 62)),  # 154x641, dark along its top and bottom; ink x 10-61, y 468-527
    ("dark_corner_6.jpg", (480, 20, 14, 30)),  # 652x108, a dark corner at the left
])
def test_shading_that_crosses_the_threshold_at_a_photos_edges_is_not_ink(name, digit_box):
    # Faint pen digits on narrow phone photos: stretched to full contrast, the darkened edges leave specks
    # over the threshold. They never reach a stroke's strength, so they are neither a digit nor part of one.
    [box] = prepared(name).boxes
    assert all(abs(got - want) <= 3 for got, want in zip(box, digit_box, strict=True))


def test_faint_specks_away_from_a_digit_go_but_a_faint_piece_inside_its_box_stays():
    ink = np.zeros((60, 60), np.float32)
    ink[10:51, 30:35] = ink[46:51, 10:35] = 255.0  # a digit's strong strokes: box x 10-34, y 10-50
    ink[15:36, 12:15] = 90.0  # a stroke of it drawn lightly, broken off, inside that box
    ink[0:2, 50:58] = 90.0  # shading at the page's edge, just over the threshold
    [digit] = segment.find_digits(ink >= 75, ink=ink)
    assert digit.box == (10, 10, 25, 41)
    assert digit.mask[5:26, 2:5].all()  # the light stroke is part of the digit


def test_a_punch_hole_is_not_a_digit_nor_part_of_one_but_a_blob_inside_a_digit_is():
    yy, xx = np.mgrid[0:300, 0:200]
    mask = (yy - 40) ** 2 + (xx - 20) ** 2 < 10 ** 2  # a punch hole, 20 px across
    mask[80:220, 15:21] = True  # a 1 in the hole's columns, 140 px tall
    [digit] = segment.find_digits(mask)
    assert digit.box == (15, 80, 6, 140)
    ring = ((yy - 150) ** 2 + (xx - 100) ** 2 < 50 ** 2) & ((yy - 150) ** 2 + (xx - 100) ** 2 >= 40 ** 2)
    blob = (yy - 150) ** 2 + (xx - 100) ** 2 < 8 ** 2  # ink pooled inside a 0, as round as a hole
    [digit] = segment.find_digits(ring | blob)
    assert digit.mask.sum() == (ring | blob).sum()


def test_pieces_in_the_same_columns_far_apart_are_not_one_digit():
    mask = np.zeros((200, 60), bool)
    mask[150:190, 20:24] = mask[150:154, 14:30] = True  # a digit near the bottom
    mask[5:45, 22:26] = True  # another, far above it in the same columns
    assert [d.box[1] for d in segment.find_digits(mask)] in ([150, 5], [5, 150])


def test_digits_written_joined_are_offered_as_parts_to_read():
    # 2, 0, 2, 5 written so close that "20" and "25" are one piece of ink each.
    result = prepared("touching_2025.png")
    assert len(result.boxes) == 2 and sorted(result.splits) == [0, 1]
    for index, (x, _, w, _) in enumerate(result.boxes):
        for rows in result.splits[index]:
            parts = [result.part_boxes[row] for row in rows]
            assert [p[0] for p in parts] == sorted(p[0] for p in parts)  # left to right
            assert all(x <= px and px + pw <= x + w for px, _, pw, _ in parts)
            assert all(pw <= segment.PART_WIDTH * ph for _, _, pw, ph in parts)
    assert result.parts.shape == (len(result.part_boxes), 28, 28, 1)
    assert not prepared("touching_2025.png", single=True).splits


def test_four_digits_written_as_one_piece_are_offered_as_four_parts_each_read_once():
    result = prepared("joined_8794.png")
    assert len(result.boxes) == 1
    assert 4 in {len(rows) for rows in result.splits[0]}
    assert len(set(result.part_boxes)) == len(result.part_boxes) == len(result.parts)  # no part twice


def test_a_wide_piece_is_cut_across_one_short_stroke_or_two_outside_a_loop():
    joined = np.zeros((40, 60), bool)
    joined[:, 5:10] = joined[:, 45:50] = True  # two upright strokes ...
    joined[20:23, 10:45] = True  # ... joined by a thin bar
    [candidates] = [segment.split_candidates(segment.Digit(box=(0, 0, 60, 40), mask=joined))]
    assert candidates and all(len(parts) == 2 for parts in candidates)
    assert all(parts[0].box[0] == 5 and parts[1].box[0] + parts[1].box[2] == 50 for parts in candidates)
    ring = np.zeros((40, 60), bool)
    ring[:4, :] = ring[-4:, :] = ring[:, :4] = ring[:, -4:] = True  # a wide 0: every cut crosses two strokes
    assert segment.split_candidates(segment.Digit(box=(0, 0, 60, 40), mask=ring)) == []
    overlapping = np.zeros((40, 60), bool)  # digits written overlapping: two bars share columns, no loop
    overlapping[:, :12] = overlapping[:, 48:] = True
    overlapping[5:8, 12:48] = overlapping[32:35, 12:40] = True
    assert any(12 <= column < 40 for column in segment._cut_columns(overlapping, [2])[2])
    tall = joined[:, :30].repeat(2, axis=0)  # narrower than tall: one digit
    assert segment.split_candidates(segment.Digit(box=(0, 0, 30, 80), mask=tall)) == []


def test_a_one_written_against_a_digit_is_offered_as_a_part_but_a_fours_stem_is_not():
    # A 1 (a straight stroke) touching an open loop beside it: narrower than two digits side by side.
    one_beside = np.zeros((60, 50), bool)
    one_beside[:, 2:8] = True
    one_beside[28:32, 8:20] = True  # where the 1 touches the digit
    one_beside[:6, 20:48] = one_beside[54:, 20:48] = one_beside[:, 20:26] = True  # a "C"-like digit
    [parts] = segment.split_candidates(segment.Digit(box=(0, 0, 50, 60), mask=one_beside))
    assert [p.box[0] for p in parts] == [2, 8] and parts[0].box[2] == 6
    four = np.zeros((60, 50), bool)  # a 4 whose bar stops at its stem: the angle is not as tall as the stem
    four[:, 40:46] = True
    four[:34, 4:10] = True
    four[30:34, 4:40] = True
    assert segment.split_candidates(segment.Digit(box=(0, 0, 50, 60), mask=four)) == []
    stroke = np.eye(60, 50, dtype=bool) | np.eye(60, 50, 1, dtype=bool) | np.eye(60, 50, 2, dtype=bool)
    assert segment.split_candidates(segment.Digit(box=(0, 0, 50, 60), mask=stroke)) == []  # one slanted 1


@pytest.mark.parametrize("name", ["boxed_7.png", "underlined_0.png"])
def test_a_box_drawn_around_a_digit_or_a_line_under_it_is_not_part_of_it(name):
    # 300x300, the digit 150 px tall in the middle; the box 25 px above and below it, the line 12 px below.
    [(x, y, w, h)] = prepared(name).boxes
    assert 140 <= h <= 160 and 70 <= y <= 80 and 60 <= x and x + w <= 240


def test_a_comb_of_fields_around_a_number_is_not_part_of_it():
    # Four printed boxes sharing their walls, a digit in each: the walls go, the digits stay, one per box.
    boxes = prepared("comb_3141.png").boxes
    assert len(boxes) == 4
    for index, (x, _, w, h) in enumerate(boxes):
        assert 20 + 90 * index < x and x + w < 20 + 90 * (index + 1) and 55 <= h <= 65


def test_two_lines_of_digits_are_read_line_by_line():
    boxes = prepared("two_lines_123_456.png").boxes
    assert len(boxes) == 6
    assert all(y < 110 for _, y, _, _ in boxes[:3]) and all(y > 140 for _, y, _, _ in boxes[3:])
    assert [b[0] for b in boxes[:3]] == sorted(b[0] for b in boxes[:3])


def test_digits_written_one_under_another_are_read_line_by_line():
    boxes = prepared("column_385.jpg").boxes  # 70 px digits 50 px apart: three lines of one digit each
    assert len(boxes) == 3 and [y for _, y, _, _ in boxes] == sorted(y for _, y, _, _ in boxes)
    assert all(60 <= h <= 75 for _, _, _, h in boxes)
    yy, xx = np.mgrid[0:60, 0:40]
    ring = np.abs(np.hypot((yy - 30) / 27, (xx - 20) / 17) - 1) < 0.12  # a 0, 60 px tall
    column = np.zeros((170, 40), bool)
    column[:60], column[110:] = ring, ring  # two 0s 50 px apart: two digits
    assert [d.box[1] for d in segment.find_digits(column)] == [0, 110]
    broken = np.zeros((140, 40), bool)
    broken[:60], broken[80:] = ring, ring  # a gap of a third of a piece: an 8 broken at its waist
    assert len(segment.find_digits(broken)) == 1
    two_lines = np.zeros((170, 90), bool)
    two_lines[:60, :40], two_lines[:60, 50:], two_lines[110:, 25:65] = ring, ring, ring  # "00" over "0"
    assert [(x // 25, y) for x, y, _, _ in (d.box for d in segment.find_digits(two_lines))] == [
        (0, 0), (2, 0), (1, 110)]  # the line first, left to right, then the digit below it
    five = np.zeros((120, 40), bool)
    five[:8, 5:38] = True  # a bar lifted far above a body, as a 5's may be: a bar is no digit
    five[60:] = ring
    assert len(segment.find_digits(five)) == 1


def test_a_broken_digit_in_one_column_is_not_two_lines():
    mask = np.zeros((120, 60), bool)
    mask[10:45, 28:33] = mask[70:110, 26:31] = True  # a 1 drawn in two strokes, a gap between them
    assert len(segment.find_digits(mask)) == 1


@pytest.mark.parametrize("name", ["tight_3.png", "tight_0.png"])
def test_a_small_digit_cropped_tight_to_its_ink_is_read_whole(name):
    # 64x64, dark on light, the strokes touching all four sides: a margin of paper goes round it first.
    result = prepared(name)
    [(x, y, w, h)] = result.boxes
    assert (x, y) == (0, 0) and 60 <= w <= 64 and 60 <= h <= 64  # the whole image, in its own pixels
    digit = result.batch[0, ..., 0]
    assert 0.1 < (digit > 0.5).mean() < 0.5  # strokes on black, as MNIST draws it: not outlines, not a blob


def test_a_tiny_image_is_enlarged_smoothly_and_square_pixels_are_taken_one_a_block():
    # An 8x8 digit, and a 12x12 one blown up 8 times with square pixels: both are read from a smooth
    # enlargement of their own pixels, so the steps of their edges are not strokes.
    tiny = preprocess.decode((DATA / "tiny_8px_0.png").read_bytes(), max_pixels=10**8)
    gray, scale = preprocess.to_gray(tiny)
    assert gray.shape == (64, 64) and scale == 8 / 64
    assert len(np.unique(gray)) > 10 * len(np.unique(np.asarray(tiny)))  # levels in between: smooth
    blocky = np.asarray(preprocess.decode((DATA / "pixelated_9.png").read_bytes(), max_pixels=10**8))
    assert preprocess.pixel_blocks(blocky) == (8, 0, 0)
    assert preprocess.pixel_blocks(blocky[3:, 5:]) == (8, 5, 3)  # cut off the grid: the first whole block
    assert preprocess.pixel_blocks(np.asarray(Image.open(DATA / "digit_4.png"))) == (1, 0, 0)
    plain = np.full((200, 200), 255.0)
    plain[50:150, 50:150] = 0.0  # one square: plain shapes are not a picture made of blocks
    assert preprocess.pixel_blocks(plain) == (1, 0, 0)
    [(x, y, w, h)] = prepared("pixelated_9.png").boxes  # in the upload's pixels
    assert 0 <= x and x + w <= 96 and 0 <= y and y + h <= 96 and h > 48
    # Ordinary images pass unchanged, an MNIST digit of 28x28 too.
    for name in ("digit_4.png", "row_2025.png"):
        pixels = np.asarray(Image.open(DATA / name).convert("L"), dtype=np.float32)
        assert preprocess.smooth_if_tiny(pixels) is pixels


def test_a_marker_stroke_as_wide_as_a_tenth_of_the_image_stays_solid_ink():
    # A 4 written with a broad marker, cropped close: strokes 25-35 px wide on a 200x200 photo. Uneven light
    # is estimated from the paper between them; the strokes themselves must not count as background.
    gray, _ = preprocess.to_gray(preprocess.decode((DATA / "marker_4.jpg").read_bytes(), max_pixels=10**8))
    ink = preprocess.ink_image(gray)
    strokes = gray < 120  # where the marker went, by the photo's own grey levels
    inside = ndimage.binary_erosion(strokes, iterations=6)  # the strokes' middles, away from their edges
    assert inside.sum() > 500
    assert np.median(ink[inside]) > 200  # as strong as the strokes' edges, not hollowed out
    assert np.median(ink[~ndimage.binary_dilation(strokes, iterations=4)]) < 10  # the paper stays paper


def test_a_bold_digit_cut_at_its_ink_gets_a_margin_of_paper_and_a_page_on_a_desk_does_not():
    # A 3 in marker cut where its strokes end: more ink than paper, so the image's median is ink. Its border
    # is mostly paper, much lighter: the image is read with a margin of that paper, as a small upload is.
    def gray(name):
        return preprocess.to_gray(preprocess.decode((DATA / name).read_bytes(), max_pixels=10**8))[0]

    assert preprocess.cut_close(gray("marker_cut_close_3.jpg"))
    for name in ("desk_photo_6.jpg", "vignette_0.jpg", "dark_corner_6.jpg", "ruled_paper_3.jpg",
                 "photo_grey_ink_8.jpg", "marker_4.jpg", "white_on_black_4.png", "boxed_7.png"):
        assert not preprocess.cut_close(gray(name)), name
    [(x, y, w, h)] = prepared("marker_cut_close_3.jpg").boxes
    width, height = Image.open(DATA / "marker_cut_close_3.jpg").size
    assert x <= 2 and y <= 2 and w >= width - 4 and h >= height - 4  # the whole image is the digit


def test_light_strokes_cut_at_their_ink_get_a_margin_and_a_ruled_page_filling_a_photo_does_not():
    # A light 3 on dark, cut where its strokes end: its median is ink, and its border, mostly dark, is
    # much darker. A ruled page on a desk that fills most of the photo looks the same by those two
    # measures; but its light part is a page, not strokes, and it covers more of the photo.
    def gray(name):
        return preprocess.to_gray(preprocess.decode((DATA / name).read_bytes(), max_pixels=10**8))[0]

    for name in ("light_cut_close_3.png", "light_trimmed_1.png"):  # the 1's outer pixels only half covered
        assert preprocess.cut_close(gray(name)), name
    for name in ("ruled_page_on_desk_6.jpg", "sticky_note_9.jpg", "sticky_note_turned_9.jpg",
                 "desk_wide_1.jpg", "desk_wedge_long_8.jpg", "white_on_black_4.png", "enlarged_noisy_0.jpg"):
        assert not preprocess.cut_close(gray(name)), name
    [(x, y, w, h)] = prepared("light_cut_close_3.png").boxes
    width, height = Image.open(DATA / "light_cut_close_3.png").size
    assert x <= 2 and y <= 2 and w >= width - 4 and h >= height - 4  # the whole image is the digit


def test_an_empty_round_0_is_not_taken_for_a_box():
    mask = np.zeros((60, 60), bool)
    yy, xx = np.mgrid[0:60, 0:60]
    mask[np.abs(np.hypot(yy - 30, xx - 30) - 25) < 2.5] = True  # a ring with nothing inside
    assert len(segment.find_digits(mask)) == 1
    mask[20:40, 28:32] = True  # with a stroke inside: a round ring is not a box, so it is not taken away
    assert all(digit.box[2] >= 50 for digit in segment.find_digits(mask))


def test_a_ring_drawn_around_digits_is_not_read_as_a_0():
    # A hand-drawn ring around a 7 and around a 38 (worksheet answers): the ring and what it encloses were
    # one digit, read "0" or "8"; now the digits inside are read, each in its own box.
    [(x, y, w, h)] = prepared("circled_7.jpg").boxes
    assert 100 <= x and x + w <= 200 and 100 <= y and 100 <= h <= 115  # the 7, 110 px tall, not the ring
    assert len(prepared("circled_38.jpg").boxes) == 2
    yy, xx = np.mgrid[0:100, 0:80]
    ring = np.abs(np.hypot((yy - 50) / 45, (xx - 40) / 35) - 1) < 0.06
    circled_one = ring.copy()
    circled_one[25:75, 38:42] = True  # a stroke half the ring's height, well inside it: a circled 1
    [one] = segment.find_digits(circled_one)
    assert one.box[3] == 50
    slashed = ring.copy()  # a slashed zero whose slash stops just short of the 0: one digit, the 0
    for row in range(10, 90):
        slashed[row, 40 + (50 - row) // 3 - 2:40 + (50 - row) // 3 + 2] = True
    slashed &= np.hypot((yy - 50) / 45, (xx - 40) / 35) < 0.9
    [zero] = segment.find_digits(slashed | ring)
    assert zero.box[3] > 90
    dotted = ring.copy()
    dotted[44:56, 34:46] = True  # a dotted zero: the dot is no digit inside a ring
    assert segment.find_digits(dotted)[0].box[3] > 90
    cornered = ring.copy()
    cornered[1:40, 2:6] = True  # a stroke in the ring's box but outside the ring: no ring around it
    assert any(digit.box[3] > 90 for digit in segment.find_digits(cornered))
    against = circled_one.copy()
    against[40:60, 52:76] = True  # a second digit written against the ring: it would go with the ring
    assert any(digit.box[3] > 90 for digit in segment.find_digits(against))


def test_a_stroke_crossing_a_ruled_line_keeps_its_pixels():
    mask = np.zeros((120, 200), bool)
    mask[60:62, :] = mask[90:92, :] = True  # ruled lines across the whole image
    mask[30:100, 100:104] = True  # a stroke crossing both
    mask[52:55, 40:70] = True  # a bar resting just above one
    cleaned = segment.without_lines(mask)
    assert not cleaned[60:62, :90].any() and not cleaned[90:92, 110:].any()
    assert cleaned[30:100, 100:104].all() and cleaned[52:55, 40:70].all()
    one_line = mask.copy()
    one_line[90:92, :] = False  # a single line may be a stroke of a digit cropped tight: it stays
    assert (segment.without_lines(one_line) == one_line).all()


def test_a_bar_that_joins_two_ruled_lines_is_kept_and_the_lines_go():
    # A 7's bar wider than the gap between two rulings joins them into one piece: taken for a desk's thick
    # edge, its band went with the bar in it (the 7 was read as a "1").
    mask = np.zeros((120, 200), bool)
    for top in (20, 26, 60, 90):
        mask[top:top + 2, :] = True  # ruled lines, 4 px apart
    ink = np.where(mask, 0.4, 0.0)
    digit = np.zeros_like(mask)
    digit[19:29, 60:110] = True  # the bar, over both lines near the top
    digit[29:80, 100:106] = True  # the stem
    mask |= digit
    ink[digit] = 1.0
    cleaned = segment.without_lines(mask, ink)
    assert (cleaned == digit).all()


def test_a_stroke_across_faint_squared_paper_keeps_its_pixels():
    # Squared paper whose lines the threshold keeps only where they cross: the bands of the lines crossing
    # the digit went with the strokes in them, as the ink kept inside them was mostly the strokes'.
    ink = np.zeros((160, 160))
    for start in range(5, 160, 10):
        ink[start:start + 2, :] += 0.3
        ink[:, start:start + 2] += 0.3
    ink = np.minimum(ink, 0.35)  # the lines, a little darker where they cross
    rows, cols = np.mgrid[0:160, 0:160]
    stroke = np.abs((rows - 40) * 40 + (cols - 100) * 80) <= 6 * np.hypot(40, 80)  # a thick diagonal
    stroke &= (rows >= 40) & (rows <= 120)
    ink[stroke] = 1.0
    mask = ink >= 0.33
    cleaned = segment.without_lines(mask, ink)
    assert cleaned[stroke].all()
    assert not (cleaned & ~stroke)[:, :30].any()  # the crossings away from the digit went


def test_a_bar_drawn_apart_from_a_5_joins_it_and_a_stray_dash_is_no_digit():
    mask = np.zeros((200, 300), bool)
    mask[60:160, 60:70] = True  # a 5's body (its stem, for the test)
    mask[100:106, 60:110] = True
    mask[150:160, 60:110] = True
    mask[40:52, 160:210] = True  # its bar, drawn apart: half its height off to the right, in its upper half
    [digit] = segment.find_digits(mask)
    assert digit.box == (60, 40, 150, 120)
    mask[40:52, 160:210] = False
    mask[112:122, 150:210] = True  # a dash below the middle of its height: a minus sign, a stray stroke
    [digit] = segment.find_digits(mask)
    assert digit.box == (60, 60, 50, 100)


@pytest.mark.parametrize("stroke", [3, 12])
def test_the_bar_of_a_digit_cropped_tight_is_neither_a_line_nor_the_desk(stroke):
    mask = np.zeros((100, 80), bool)
    mask[0:stroke, 0:80] = True  # a 7 cropped to its ink: its bar runs along the whole top edge
    mask[stroke:100, 55:55 + stroke] = True
    assert (segment.without_lines(segment.without_surroundings(mask)) == mask).all()


def test_a_sloping_bar_of_a_digit_trimmed_to_its_ink_is_not_a_desks_edge():
    # A 7 drawn with an 8 px pen and trimmed to its ink: its bar runs from edge to edge, sloping down from
    # the top side, so its middle lies off the side, as a desk's blurred edge does. Its ink on the side
    # itself is what says it is the digit's. The same band a few pixels down, off the side, is an edge.
    def sloping_bar(down: int) -> np.ndarray:
        mask = np.zeros((200, 100), bool)
        for x in range(100):
            mask[down + x * 15 // 100:down + x * 15 // 100 + 8, x] = True
        return mask

    seven = sloping_bar(0)
    seven[20:200, 86:94] = True  # its stem
    assert (segment.without_lines(seven) == seven).all()
    edge = sloping_bar(5)
    assert not segment.without_lines(edge)[5:30].any()
    # A 2's bottom, trimmed: it rises from the bottom left corner and runs on to the right side. Its ends
    # are off the sides, but it bends, where a desk's edge is straight.
    two = np.zeros((200, 100), bool)
    for x in range(100):
        y = 185 - 25 * x // 30 if x < 30 else 160
        two[y:y + 8, x] = True
    two[20:160, 60:68] = True  # the stroke coming down to it
    assert (segment.without_lines(two) == two).all()
    [(x, y, w, h)] = prepared("trimmed_drawing_7.png").boxes
    assert y <= 2  # the bar is part of the digit


def test_a_bar_along_the_side_of_a_clean_image_is_ink_not_paper():
    # A bold typed 7 trimmed to its ink: its bar is wider than the background estimate's opening; a clean
    # image's paper is flat, and beyond its sides there is paper, so the bar stays ink.
    gray = preprocess.to_gray(Image.open(DATA / "typed_trimmed_7.png"))[0]
    ink = preprocess.ink_image(gray)
    bar = gray < 128
    assert bar[:10].mean() > 0.9  # the bar fills the top rows
    assert np.median(ink[:10][bar[:10]]) > 200
    [(x, y, w, h)] = prepared("typed_trimmed_7.png").boxes
    assert y <= 2 and w >= gray.shape[1] - 4
