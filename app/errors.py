"""Typed errors for bad input, and the one place that turns any HTTP error into JSON."""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class InputError(Exception):
    """A problem with what the client sent; `status` is the HTTP status it maps to."""

    status = 400
    kind = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingFile(InputError):
    status = 400
    kind = "missing_file"


class UploadTooLarge(InputError):
    status = 413
    kind = "too_large"


class NotAnImage(InputError):
    status = 415
    kind = "not_an_image"


class NoDigitFound(InputError):
    status = 422
    kind = "no_digit"

    def __init__(self, message: str = "no digit found in the image") -> None:
        super().__init__(message)


# Plain words for the HTTP errors Werkzeug raises before our code runs.
_HTTP_MESSAGES = {
    404: "no such endpoint",
    405: "method not allowed for this endpoint",
    413: "upload too large",
}


def error_kind(status: int) -> str:
    return {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
            413: "too_large", 415: "not_an_image", 422: "no_digit"}.get(status, "server_error")


def register_error_handlers(app: Flask) -> None:
    """Map every error to `{"error": ...}` with a fitting status."""

    @app.errorhandler(InputError)
    def input_error(exc: InputError):
        return _json_error(exc.message, exc.status, exc.kind)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if status == 413:
            limit_mb = app.config["MAX_CONTENT_LENGTH"] / 1_000_000
            parts = app.config["MAX_FORM_PARTS"]
            message = f"upload too large: at most {limit_mb:g} MB and {parts} form parts per request"
        else:
            message = _HTTP_MESSAGES.get(status) or (exc.description or exc.name).rstrip(".")
        response = _json_error(message, status, error_kind(status))
        if status == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _json_error("internal error; the request was not processed", 500, "server_error")


def _json_error(message: str, status: int, kind: str):
    request.environ["digits.error_kind"] = kind
    response = jsonify(error=message)
    response.status_code = status
    return response
