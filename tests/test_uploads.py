"""Multipart uploads are parsed as werkzeug parses them, without compiling a pattern for each boundary."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser

from app.uploads import _BoundarySearch, _MultiPartParser

from .conftest import DATA

LINE_BREAK = b"(?:\r\n|\n|\r)"
BOUNDARIES = st.sampled_from([b"x", b"-x", b"--ab", b"ab-", b"------------------------d5b5f1dac8e938df",
                              b"----WebKitFormBoundary7MA4YWxkTrZu0gW", b"a'()+_,./:=? b"])


def werkzeug_pattern(boundary: bytes, *, line_break_optional: bool) -> re.Pattern:
    """The pattern werkzeug's MultipartDecoder compiles for a boundary (sansio/multipart.py)."""
    return re.compile(rb"%s%s--%s(--[^\S\n\r]*%s?|[^\S\n\r]*%s)" % (
        LINE_BREAK, b"?" if line_break_optional else b"", re.escape(boundary), LINE_BREAK, LINE_BREAK),
        re.MULTILINE)


@settings(max_examples=1500, deadline=None, database=None)
@given(boundary=BOUNDARIES, optional=st.booleans(), data=st.data())
def test_a_boundary_is_found_where_werkzeug_finds_it(boundary, optional, data):
    pieces = st.sampled_from([b"\r", b"\n", b"\r\n", b"-", b"--", b" ", b"\t", b"a", b"x",
                              b"--" + boundary, b"\r\n--" + boundary])
    buffer = bytearray(b"".join(data.draw(st.lists(pieces, max_size=14))))
    pos = data.draw(st.integers(0, len(buffer)))
    theirs = werkzeug_pattern(boundary, line_break_optional=optional).search(buffer, pos)
    ours = _BoundarySearch(boundary, line_break_optional=optional).search(buffer, pos)
    assert (ours and (ours.start(), ours.end(), ours.group(1))) == \
        (theirs and (theirs.start(), theirs.end(), theirs.group(1)))


def parse(parser_class, body: bytes, boundary: bytes, buffer_size: int, max_parts: int | None = None):
    """(fields, files as name -> (filename, bytes)), or the exception, from one of the two parsers."""
    parser = parser_class(stream_factory=lambda **_: io.BytesIO(), max_form_memory_size=200,
                          buffer_size=buffer_size, max_form_parts=max_parts)
    try:
        form, files = parser.parse(io.BytesIO(body), boundary, len(body))
    except (ValueError, RequestEntityTooLarge) as exc:
        return type(exc).__name__
    return (list(form.items(multi=True)),
            [(name, f.filename, f.read()) for name, f in files.items(multi=True)])


def part(boundary: bytes, name: str, value: bytes, filename: str | None, newline: bytes) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = b"--" + boundary + newline + f"Content-Disposition: {disposition}".encode() + newline
    if filename:
        head += b"Content-Type: image/png" + newline
    return head + newline + value + newline


VALUES = st.binary(max_size=300) | st.sampled_from([b"\r\n--", b"--x\r\n", b"\r\n\r\n"])
PARTS = st.lists(st.tuples(st.sampled_from(["file", "mode", "x"]), VALUES, st.sampled_from([None, "a.png"])),
                 max_size=4)


@settings(max_examples=300, deadline=None, database=None)
@given(boundary=BOUNDARIES, newline=st.sampled_from([b"\r\n", b"\n"]),
       buffer_size=st.sampled_from([3, 7, 64, 2**16]), parts=PARTS,
       preamble=st.sampled_from([b"", b"preamble\r\n"]), cut=st.integers(0, 20),
       ending=st.sampled_from([b"--\r\n", b"--", b"", b"\r\n"]))
def test_bodies_parse_as_werkzeug_parses_them(boundary, newline, buffer_size, parts, preamble, ending, cut):
    body = preamble + b"".join(part(boundary, name, value, filename, newline)
                               for name, value, filename in parts)
    body += b"--" + boundary + ending
    body = body[:len(body) - cut]  # a body cut short, too
    assert parse(_MultiPartParser, body, boundary, buffer_size, max_parts=3) == \
        parse(MultiPartParser, body, boundary, buffer_size, max_parts=3)


@pytest.mark.parametrize("size, refused", [(50, False), (400, True)])
def test_a_form_field_over_the_memory_limit_is_refused_however_it_arrives(size, refused):
    body = part(b"b", "mode", b"x" * size, None, b"\r\n") + b"--b--\r\n"
    for buffer_size in (7, 2**16):
        ours, theirs = (parse(cls, body, b"b", buffer_size) for cls in (_MultiPartParser, MultiPartParser))
        assert ours == theirs
        assert (ours == "RequestEntityTooLarge") == refused


@pytest.mark.parametrize("boundary", ["------------------------d5b5f1dac8e938df",  # curl -F
                                      "----WebKitFormBoundary7MA4YWxkTrZu0gW",  # a browser's FormData
                                      "0123456789abcdef0123456789abcdef"])  # Python requests
def test_uploads_in_each_clients_own_style_read_the_digit(client, boundary):
    image = (DATA / "digit_7.png").read_bytes()
    body = part(boundary.encode(), "file", image, "digit_7.png", b"\r\n") + f"--{boundary}--\r\n".encode()
    response = client.post("/predict", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 200
    assert response.get_json()["digits"] == "7"
