"""POST /predict through the Flask test client with the real shipped model."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageOps

from .conftest import DATA


@pytest.mark.parametrize("digit", range(10))
def test_each_digit_is_read_right(upload, digit):
    response = upload(f"digit_{digit}.png")
    assert response.status_code == 200
    body = response.get_json()
    assert body["digit"] == digit and body["digits"] == str(digit)
    assert body["confidence"] > 0.5
    assert len(body["probabilities"]) == 10 and sum(body["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert body["probabilities"][digit] == body["confidence"]
    [only] = body["predictions"]
    assert only["digit"] == digit and only["box"][2] > 0 and only["box"][3] > 0
    assert body["model"] == "1" or body["model"].isdigit()


@pytest.mark.parametrize("name, expected", [
    ("exif_rotated_7.jpg", "7"), ("canvas_3.png", "3"), ("white_on_black_4.png", "4"),
    ("black_on_white_2.png", "2"), ("rgb_5.png", "5"), ("photo_grey_ink_8.jpg", "8"),
    ("typed_7.png", "7"), ("animated.gif", "6"), ("row_2025.png", "2025"), ("detached_bar_5.png", "5"),
    ("canvas_lifted_bar_5.png", "5"), ("photo_big_digit_9.jpg", "9"), ("photo_small_digit_4.jpg", "4"),
    ("ruled_paper_3.jpg", "3"), ("desk_photo_6.jpg", "6"), ("vignette_0.jpg", "0"),
    ("dark_corner_6.jpg", "6"), ("touching_2025.png", "2025"), ("scan_a4_3.tif", "3"),
    ("boxed_7.png", "7"), ("underlined_0.png", "0"), ("comb_3141.png", "3141"),
    ("two_lines_123_456.png", "123456"), ("tight_3.png", "3"), ("tight_0.png", "0"),
    ("marker_4.jpg", "4"), ("marker_cut_close_3.jpg", "3"), ("desk_sliver_4.jpg", "4"),
    ("sticky_note_9.jpg", "9"), ("sticky_note_turned_9.jpg", "9"), ("tiny_8px_0.png", "0"),
    ("pixelated_9.png", "9"), ("page_edge_3.jpg", "3"),
    ("page_edge_5.jpg", "5"), ("desk_wedge_7.jpg", "7"),
    ("overlapping_53.png", "53"), ("joined_8794.png", "8794"), ("joined_10.png", "10"),
    ("joined_91.png", "91"), ("punched_scan_9.png", "9"), ("punched_scan_4.png", "4"),
    ("iphone_photo_4.heic", "4"), ("photo_6.avif", "6"), ("cutout_white_7.png", "7"),
    ("cutout_near_white_5.png", "5"), ("number_on_photo_9612507011.jpg", "9612507011"),
    ("shaded_edge_0.jpg", "0"), ("shaded_corner_3.jpg", "3"), ("desk_wedge_long_8.jpg", "8"),
    ("cropped_row_1921.png", "1921"), ("hairline_4.png", "4"), ("ruled_bridge_7.jpg", "7"),
    ("ruled_sliver_9.jpg", "9"), ("far_bar_5.jpg", "5"), ("desk_corner_1.jpg", "1"),
    ("ruled_beside_desk_6.jpg", "6"), ("shaded_ruling_9.jpg", "9"), ("desk_wide_1.jpg", "1"),
    ("desk_joined_1.jpg", "1"), ("faint_ruling_0.jpg", "0"), ("top_edge_5.jpg", "5"), ("top_edge_2.jpg", "2"),
    ("ruled_strips_2.jpg", "2"), ("enlarged_6.png", "6"), ("out_of_focus_2.jpg", "2"),
    ("enlarged_noisy_0.jpg", "0"), ("light_cut_close_3.png", "3"), ("light_trimmed_1.png", "1"),
    ("ruled_page_on_desk_6.jpg", "6"),
    ("trimmed_drawing_7.png", "7"), ("trimmed_drawing_2.png", "2"), ("trimmed_drawing_bent_2.png", "2"),
    ("typed_trimmed_7.png", "7"),
    ("shadow_crossed_6.jpg", "6"), ("shadow_across_corner_3.jpg", "3"),
    ("circled_7.jpg", "7"), ("circled_38.jpg", "38"), ("column_385.jpg", "385"),
])
def test_real_world_images_are_read_right(upload, name, expected):
    response = upload(name)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["digits"] == expected


def test_row_answer_lists_every_digit_with_its_box(upload):
    body = upload("row_2025.png").get_json()
    assert body["digits"] == "2025"
    assert body["digit"] is None and body["confidence"] is None and body["probabilities"] is None
    assert [p["digit"] for p in body["predictions"]] == [2, 0, 2, 5]
    with Image.open(DATA / "row_2025.png") as image:
        width, height = image.size
    boxes = [p["box"] for p in body["predictions"]]
    assert all(0 <= x and x + w <= width and 0 <= y and y + h <= height for x, y, w, h in boxes)
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)


def test_digits_written_joined_are_read_one_by_one(upload):
    body = upload("touching_2025.png").get_json()
    assert body["digits"] == "2025"
    boxes = [p["box"] for p in body["predictions"]]
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    assert all(w <= h for _, _, w, h in boxes)  # each box holds one digit, not a joined pair


def test_single_mode_reads_the_whole_image_as_one_digit(upload):
    body = upload("row_2025.png", "?mode=single").get_json()
    assert len(body["predictions"]) == 1 and body["digit"] is not None
    assert len(body["digits"]) == 1


def test_include_input_gives_the_28x28_image_the_model_saw(upload):
    body = upload("digit_3.png", "?include=input").get_json()
    url = body["predictions"][0]["input"]
    assert url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        assert image.size == (28, 28)


@pytest.mark.parametrize("name, kind, size", [
    ("iphone_photo_4.heic", "jpeg", (1200, 900)),  # a browser other than Safari cannot show HEIC itself
    ("exif_rotated_7.jpg", "jpeg", None),  # stored sideways: the preview and its size are upright
    ("canvas_3.png", "png", None),  # transparent: kept so
])
def test_include_preview_gives_the_upload_upright_with_the_size_boxes_refer_to(upload, name, kind, size):
    body = upload(name, "?include=input,preview").get_json()
    preview = body["preview"]
    assert preview["url"].startswith(f"data:image/{kind};base64,")
    if size is None:
        with Image.open(DATA / name) as original:
            size = ImageOps.exif_transpose(original).size
    assert (preview["width"], preview["height"]) == size
    with Image.open(io.BytesIO(base64.b64decode(preview["url"].split(",", 1)[1]))) as image:
        assert max(image.size) <= 640
        assert image.size[0] / image.size[1] == pytest.approx(preview["width"] / preview["height"], rel=0.02)
    [only] = body["predictions"]
    x, y, w, h = only["box"]
    assert x + w <= preview["width"] and y + h <= preview["height"]
    assert "input" in only
    assert "preview" not in upload(name).get_json()  # only when asked


@pytest.mark.parametrize("name", ["blank_page.png", "speck.png", "shaded_blank_page.jpg"])
def test_no_digit_is_a_422_not_a_made_up_digit(upload, name):
    response = upload(name)
    assert response.status_code == 422
    assert response.get_json() == {"error": "no digit found in the image"}


def test_missing_file_part_is_400(client):
    response = client.post("/predict", data={"other": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "file" in response.get_json()["error"]


def test_empty_file_is_400(upload):
    response = upload(b"", filename="empty.png")
    assert response.status_code == 400
    assert "empty" in response.get_json()["error"]


@pytest.mark.parametrize("name", ["not_an_image.txt"])
def test_text_file_is_415(upload, name):
    response = upload(name, filename="sneaky.png")
    assert response.status_code == 415
    assert "not an image" in response.get_json()["error"]


def test_too_large_upload_is_413(client):
    response = client.post("/predict", data={"file": (io.BytesIO(b"\0" * 11_000_000), "big.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "too large" in response.get_json()["error"]


def test_wrong_method_is_405_json(client):
    response = client.get("/predict")
    assert response.status_code == 405
    assert response.is_json and "method" in response.get_json()["error"]


@pytest.mark.parametrize("query", ["?mode=banana", "?include=everything", "?include=input,everything"])
def test_bad_query_values_are_400(upload, query):
    response = upload("digit_1.png", query)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_unknown_path_is_404_json(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404 and response.get_json() == {"error": "no such endpoint"}
