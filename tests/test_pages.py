"""The upload page without a browser: the form, the no-JavaScript result page, errors as HTML, the headers."""

from __future__ import annotations

import html
import io
import re

import pytest

from app.headers import CONTENT_SECURITY_POLICY

from .conftest import DATA


def post_page(client, name: str, filename: str | None = None, data: bytes | None = None):
    """POST a file from tests/data to the page, as the plain form does."""
    body = data if data is not None else (DATA / name).read_bytes()
    return client.post("/", data={"file": (io.BytesIO(body), filename or name)},
                       content_type="multipart/form-data")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_page_has_a_labelled_form_that_works_without_javascript(client):
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    form = re.search(r"<form[^>]*>", page).group(0)
    assert 'method="post"' in form and 'action="/"' in form and 'enctype="multipart/form-data"' in form
    assert re.search(r'<input[^>]*id="file"[^>]*name="file"[^>]*type="file"', page)
    assert '<label class="button primary" for="file">' in page
    assert 'type="submit"' in page
    assert re.search(r'<canvas[^>]*aria-label="Drawing area', page)
    assert 'aria-label="Pen width"' in page
    assert 'lang="en"' in page and 'name="viewport"' in page
    # It names the formats the service reads, iPhone photos among them, and lets the picker choose them.
    assert "WebP, TIFF, AVIF or HEIC" in page
    assert re.search(r'accept="image/\*,\.heic,\.heif,\.avif"', page)


def test_page_needs_nothing_from_other_origins(client):
    page = client.get("/").get_data(as_text=True)
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', page):
        assert url.startswith(("/", "#")) and not url.startswith("//"), url
    assert "http://" not in page and "https://" not in page
    for asset in ("/static/app.js", "/static/cards.js", "/static/pad.js", "/static/style.css",
                  "/static/favicon.svg"):
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"http://" not in served.data.replace(b"http://www.w3.org/2000/svg", b"")
        assert b"https://" not in served.data


@pytest.mark.parametrize("method, path", [("get", "/"), ("get", "/static/app.js"), ("get", "/predict"),
                                          ("get", "/no-such-page"), ("post", "/predict")])
def test_every_response_carries_the_security_headers(client, method, path):
    response = getattr(client, method)(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("page", ["index", "result"])
def test_pages_have_no_inline_script_or_style_the_policy_would_block(client, page):
    response = client.get("/") if page == "index" else post_page(client, "row_2025.png")
    markup = response.get_data(as_text=True)
    assert response.status_code == 200
    # Only scripts from our origin; a JSON data block is never executed, so the policy allows it.
    assert not re.search(r'<script(?![^>]*\b(?:src=|type="application/json"))[^>]*>', markup)
    assert not re.search(r"\sstyle=", markup) and "<style" not in markup
    assert not re.search(r"\son[a-z]+=", markup)  # no inline event handlers


def test_plain_form_reads_a_real_digit(client):
    response = post_page(client, "digit_7.png")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'<span class="digits">7</span>', page)
    assert "digit_7.png" in page
    assert "<title>7 · Digits</title>" in page


def test_result_page_shows_boxes_and_the_28x28_images(client):
    response = post_page(client, "row_2025.png")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'<span class="digits">2025</span>', page)
    assert re.search(r'<svg class="boxes" viewBox="0 0 346 145"', page)  # boxes in the upload's pixels
    assert len(re.findall(r'<rect class="box" ', page)) == 4
    inputs = re.findall(r'<img src="data:image/png;base64,[^"]+" width="84" height="84" alt="The 28 by 28',
                        page)
    assert len(inputs) == 4
    assert len(re.findall(r'<svg class="probs"', page)) == 4
    assert len(re.findall(r'<rect class="bar', page)) == 40
    assert re.search(r'<img src="data:image/(png|jpeg);base64,[^"]+" alt="The uploaded image"', page)


@pytest.mark.parametrize("name, status, headline", [
    ("not_an_image.txt", 415, "That file isn't an image"),
    ("blank_page.png", 422, "No digit found"),
    ("truncated_7.png", 415, "That file isn't an image"),
])
def test_bad_uploads_get_the_page_with_the_problem_in_words(client, name, status, headline):
    response = post_page(client, name)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = text(response)
    assert headline in page
    assert 'role="alert"' in page and name in page
    assert '"error"' not in page  # the page, not the API's JSON


def test_no_file_chosen_says_so(client):
    response = client.post("/", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose an image file first." in text(response)


def test_too_large_upload_gets_the_page_with_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2_000_000)
    response = post_page(client, "digit_7.png", data=b"\x89PNG" + bytes(2_100_000))
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "That file is too large" in text(response)
    assert "at most 2 MB" in text(response)


def test_file_names_are_shown_as_text_not_markup(client):
    response = post_page(client, "digit_7.png", filename="<img src=x onerror=alert(1)>.png")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in page
