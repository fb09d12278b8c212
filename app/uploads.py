"""Uploads stay in memory: nothing a user sends is written to disk."""

from __future__ import annotations

import io
import re

from flask import Request, current_app, request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from app.errors import InputError, MissingFile

# What follows a boundary in werkzeug's decoder: "--" and the end of the form, or the next part's line break.
_AFTER_BOUNDARY = re.compile(rb"(--[^\S\n\r]*(?:\r\n|\n|\r)?|[^\S\n\r]*(?:\r\n|\n|\r))")


class _BoundaryMatch:
    """The parts of a regular expression match that werkzeug's decoder reads."""

    __slots__ = ("_start", "_end", "_ending")

    def __init__(self, start: int, end: int, ending: bytes) -> None:
        self._start, self._end, self._ending = start, end, ending

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def group(self, index: int) -> bytes:
        """Group 1, what follows the boundary (the only group the decoder reads)."""
        if index != 1:
            raise IndexError("no such group")
        return self._ending


class _BoundarySearch:
    """`search` of the pattern werkzeug's decoder compiles for each request's boundary,
    `(?:\\r\\n|\\n|\\r)?--BOUNDARY(...)` (the line break optional before the first boundary only), done
    with bytes.find and one pattern compiled once. Every client (curl, browsers, requests) sends a new
    random boundary with each upload, and compiling the two patterns took about 0.2 ms of CPU a request:
    half of what the whole request costs the benchmark's bare endpoint."""

    def __init__(self, boundary: bytes, *, line_break_optional: bool) -> None:
        self.marker = b"--" + boundary
        self.line_break_optional = line_break_optional

    def search(self, buffer: bytes | bytearray, pos: int = 0) -> _BoundaryMatch | None:
        while (at := buffer.find(self.marker, pos)) != -1:
            if at - 2 >= pos and buffer[at - 2:at] == b"\r\n":
                start = at - 2
            elif at - 1 >= pos and buffer[at - 1] in b"\r\n":
                start = at - 1
            elif self.line_break_optional:
                start = at
            else:
                start = None
            after = _AFTER_BOUNDARY.match(buffer, at + len(self.marker)) if start is not None else None
            if after is not None:
                return _BoundaryMatch(start, after.end(), after.group(1))
            pos = at + 1
        return None


class _Decoder(MultipartDecoder):
    """werkzeug's multipart decoder, without compiling regular expressions for each boundary."""

    def __init__(self, boundary: bytes, *args, **kwargs) -> None:
        super().__init__(b"-", *args, **kwargs)  # patterns for a fixed boundary: compiled once, then cached
        self.boundary = boundary
        self.preamble_re = _BoundarySearch(boundary, line_break_optional=True)
        self.boundary_re = _BoundarySearch(boundary, line_break_optional=False)


class _MultiPartParser(MultiPartParser):
    """werkzeug's multipart parser with the decoder above. Its `parse` names werkzeug's decoder class
    directly, so the loop is restated here as werkzeug has it (fields, files, the memory limit);
    tests/test_uploads.py checks the two parse every generated body alike."""

    def parse(self, stream, boundary: bytes, content_length: int | None) -> tuple[MultiDict, MultiDict]:
        decoder = _Decoder(boundary, max_form_memory_size=self.max_form_memory_size,
                           max_parts=self.max_form_parts)
        fields, files = [], []
        while True:
            data = stream.read(self.buffer_size)
            decoder.receive_data(data or None)
            while not isinstance(event := decoder.next_event(), (Epilogue, NeedData)):
                if isinstance(event, Field):
                    part, field_size, container = event, 0, []
                    write = container.append
                elif isinstance(event, File):
                    part, field_size = event, None
                    container = self.start_file_streaming(event, content_length)
                    write = container.write
                elif isinstance(event, Data):  # (the preamble before the first part is left alone)
                    if self.max_form_memory_size is not None and field_size is not None:
                        field_size += len(event.data)
                        if field_size > self.max_form_memory_size:
                            raise RequestEntityTooLarge()
                    write(event.data)
                    if event.more_data:
                        continue
                    if isinstance(part, Field):
                        charset = self.get_part_charset(part.headers)
                        fields.append((part.name, b"".join(container).decode(charset, "replace")))
                    else:
                        container.seek(0)
                        files.append((part.name, FileStorage(container, part.filename, part.name,
                                                             headers=part.headers)))
            if not data:
                return self.cls(fields), self.cls(files)


class _FormDataParser(FormDataParser):
    def _parse_multipart(self, stream, mimetype: str, content_length: int | None, options: dict[str, str]):
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        parser = _MultiPartParser(stream_factory=self.stream_factory, cls=self.cls,
                                  max_form_memory_size=self.max_form_memory_size,
                                  max_form_parts=self.max_form_parts)
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class InMemoryRequest(Request):
    """Werkzeug spools large file parts to a temporary file; keep them in memory instead."""

    form_data_parser_class = _FormDataParser

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
