"""Uploads stay in memory: nothing a user sends is written to disk."""

from __future__ import annotations

import io

from flask import Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import InputError, MissingFile


class InMemoryRequest(Request):
    """Werkzeug spools large file parts to a temporary file; keep them in memory instead."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def read_upload(field: str = "file") -> bytes:
    """The bytes of the one uploaded file in `field`, or a typed error saying what is wrong."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and limit and request.content_length > limit:
        raise RequestEntityTooLarge()  # before the content type: a huge body is refused as too large
    if not request.mimetype.startswith("multipart/form-data"):
        raise MissingFile(f"send the image as multipart/form-data with a part named '{field}' "
                          f"(e.g. curl -F {field}=@digit.png)")
    files = request.files.getlist(field)
    if not files:
        raise MissingFile(f"no file in the request: send the image in a form part named '{field}'")
    if len(files) > 1:
        raise InputError(f"send one image per request (got {len(files)} files)")
    data = files[0].read()
    if not data:
        raise MissingFile("the uploaded file is empty")
    return data
