"""Bad input and abuse: every case gets a clear 4xx JSON error, and the service keeps answering."""

from __future__ import annotations

import http.client
import io
import json
import tempfile
import uuid

import numpy as np
import pytest
from PIL import Image

from .conftest import DATA
from .live_server import serve

LIMIT = 10_000_000  # MAX_UPLOAD_BYTES' default


def upload(client, data: bytes, filename: str = "upload.png", field: str = "file"):
    return client.post("/predict", data={field: (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def multipart(data: bytes, boundary: str, filename: str = "big.png") -> tuple[bytes, bytes]:
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    return head + data, f"\r\n--{boundary}--\r\n".encode()


def assert_error(response, status: int, *words: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    message = response.get_json()["error"]
    assert all(word in message for word in words), message
    return message


@pytest.fixture(autouse=True)
def still_up(client):
    """After each bad request the service still reads a good image."""
    yield
    response = upload(client, (DATA / "digit_7.png").read_bytes(), "digit_7.png")
    assert response.status_code == 200 and response.get_json()["digits"]


@pytest.mark.parametrize("name, status, words", [
    ("empty.png", 400, ["empty"]),
    ("text_named.png", 415, ["not an image"]),
    ("pdf_named.png", 415, ["not an image"]),
    ("svg_named.png", 415, ["not an image"]),
    ("not_an_image.txt", 415, ["not an image"]),
    ("truncated_7.png", 415, ["truncated"]),
    ("truncated_7.jpg", 415, ["truncated"]),
    ("huge_50mp.png", 413, ["too large", "megapixels"]),
    ("bomb_400mp.png", 413, ["too large"]),  # its header claims 20000 x 20000 pixels
])
def test_bad_files_get_a_clear_error(client, name, status, words):
    assert_error(upload(client, (DATA / name).read_bytes(), name), status, *words)


@pytest.mark.parametrize("width, height", [(2000, 1), (1, 2000), (300, 1), (2000, 2), (1, 700), (5000, 3)])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_an_image_a_pixel_or_two_thin_holds_no_digit(client, width, height, fmt):
    # Striped like ink on paper; reduced to the work size, such an image is a line of pixels or none.
    stripes = ((np.arange(width)[None, :] // 7 + np.arange(height)[:, None]) % 3 == 0) * 255
    buffer = io.BytesIO()
    Image.fromarray(stripes.astype(np.uint8)).save(buffer, format=fmt)
    assert_error(upload(client, buffer.getvalue()), 422, "no digit")


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client):
    padded = (DATA / "digit_7.png").read_bytes() + b"\0" * LIMIT  # a real PNG, with trailing bytes
    assert_error(upload(client, padded, "digit_7.png"), 413, "too large", "10 MB")


def test_a_chunked_upload_over_the_limit_is_refused(client):
    boundary = uuid.uuid4().hex
    head, tail = multipart(b"\0" * (LIMIT + 1_000_000), boundary)
    response = client.post(
        "/predict", input_stream=io.BytesIO(head + tail),
        headers={"Transfer-Encoding": "chunked", "Content-Type": f"multipart/form-data; boundary={boundary}"},
        environ_overrides={"wsgi.input_terminated": True})  # what gunicorn sets for a chunked body
    assert_error(response, 413, "too large")


@pytest.mark.slow
def test_a_chunked_upload_over_the_limit_is_refused_by_the_real_server():
    """No Content-Length: the limit must hold while the body streams in."""
    boundary = uuid.uuid4().hex
    head, tail = multipart(b"", boundary)

    def body():
        yield head
        block = b"\0" * 65536
        for _ in range((LIMIT + 2_000_000) // len(block)):
            yield block
        yield tail

    with serve(workers=1) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            try:
                connection.request("POST", "/predict", body=body(), encode_chunked=True,
                                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may stop reading once over the limit; its answer is already sent
            response = connection.getresponse()
            assert response.status == 413
            assert "too large" in json.loads(response.read())["error"]
        finally:
            connection.close()
        assert server.get("/healthz")[0] == 200


def test_no_file_part(client):
    assert_error(upload(client, b"\x89PNG", field="image"), 400, "no file", "'file'")


def test_a_request_that_is_not_a_form(client):
    assert_error(client.post("/predict"), 400, "multipart/form-data")
    raw = (DATA / "digit_7.png").read_bytes()
    assert_error(client.post("/predict", data=raw, content_type="image/png"), 400, "multipart/form-data")


@pytest.mark.parametrize("body", ["{not json", '{"file": "iVBORw0KGgo="}', "null", "\x00\xff"])
def test_json_garbage_or_not(client, body):
    response = client.post("/predict", data=body, content_type="application/json")
    assert_error(response, 400, "multipart/form-data")


def test_a_broken_multipart_body(client):
    response = client.post("/predict", data=b"--x\r\nContent-Disposition: form-da",
                           content_type="multipart/form-data; boundary=x")
    assert_error(response, 400, "no file")


def test_two_files_in_one_request(client):
    seven = (DATA / "digit_7.png").read_bytes()
    files = [(io.BytesIO(seven), "a.png"), (io.BytesIO(seven), "b.png")]
    response = client.post("/predict", data={"file": files}, content_type="multipart/form-data")
    assert_error(response, 400, "one image per request")


def test_too_many_form_parts(client):
    parts = {f"part{n}": "x" for n in range(20)}
    parts["file"] = (io.BytesIO((DATA / "digit_7.png").read_bytes()), "digit_7.png")
    response = client.post("/predict", data=parts, content_type="multipart/form-data")
    assert_error(response, 413, "form parts")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_the_wrong_method(client, method):
    response = client.open("/predict", method=method)
    assert_error(response, 405, "method not allowed")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("query, words", [
    ("?mode=all", ["mode"]), ("?include=everything", ["include"]), ("?mode=%00", ["mode"]),
])
def test_bad_query_values(client, query, words):
    response = client.post(f"/predict{query}", data={"file": (io.BytesIO(b"x"), "x.png")},
                           content_type="multipart/form-data")
    assert_error(response, 400, *words)


@pytest.mark.parametrize("filename", [
    "<script>alert(1)</script>.png", "../../../../etc/passwd", "C:\\boot.ini", "x\r\nSet-Cookie: a=b.png",
])
def test_filenames_are_never_reflected(client, filename):
    for data in ((DATA / "text_named.png").read_bytes(), (DATA / "digit_7.png").read_bytes()):
        response = upload(client, data, filename)
        text = response.get_data(as_text=True)
        assert "<script>" not in text and "passwd" not in text and "boot.ini" not in text
        assert "Set-Cookie" not in response.headers and "a=b" not in text


def test_uploads_are_never_written_to_disk(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an upload was about to be written to a temporary file")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    # Werkzeug spools file parts over 500 kB to disk unless told otherwise: send more than that.
    big = (DATA / "digit_7.png").read_bytes() + b"\0" * 2_000_000
    response = upload(client, big, "digit_7.png")
    assert response.status_code == 200 and response.get_json()["digits"]


def test_errors_are_json_everywhere(client):
    for response in (client.get("/no/such/thing"), client.delete("/"), client.post("/healthz")):
        assert response.mimetype == "application/json" and response.get_json()["error"]
