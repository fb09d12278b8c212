"""The upload page: GET / shows it; POST / reads an upload sent without JavaScript and shows the result."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from app import model, preprocess
from app.errors import InputError, MissingFile
from app.reading import read_digits, upload_preview
from app.uploads import read_upload

bp = Blueprint("pages", __name__)

# What went wrong, in the words of the page; the detail line comes from the error itself.
HEADLINES = {
    400: "That upload could not be read",
    413: "That file is too large",
    415: "That file isn't an image",
    422: "No digit found",
    500: "Something went wrong on our side",
    503: "Not ready yet",
}
NO_DIGIT_HINT = "Nothing in the image looked like a digit: try darker, larger writing on plain paper."


@bp.context_processor
def page_text() -> dict:
    """The error words, also handed to the page's script as JSON so both say the same."""
    return {"page_text": {"headlines": HEADLINES, "noDigitHint": NO_DIGIT_HINT}}


@bp.get("/")
def index():
    """The upload page."""
    return _page()


@bp.post("/")
def read():
    """Read the image sent by the plain form (the page without JavaScript) and show what was read."""
    data = read_upload("file")
    answer = read_digits(data, model.current(), current_app.config, include_input=True)
    image, size = upload_preview(data, current_app.config["MAX_IMAGE_PIXELS"])
    name = request.files["file"].filename or "upload"
    return _page(result={"name": name, "answer": answer, "image": image, "size": size})


@bp.errorhandler(InputError)
def input_error(exc: InputError):
    """Bad uploads on the page get the page back with the problem in plain words, never JSON."""
    chosen = request.files.get("file")
    nothing_chosen = isinstance(exc, MissingFile) and not (chosen and chosen.filename)
    detail = "Choose an image file first." if nothing_chosen else exc.message
    if exc.status == 422:
        detail = NO_DIGIT_HINT
    return _page(error=_error(exc.status, detail, chosen.filename if chosen else None)), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Werkzeug's errors (a body over the size limit, the model still loading), as a page."""
    status = exc.code or 500
    if status == 413:
        detail = f"Send an image of at most {current_app.config['MAX_CONTENT_LENGTH'] / 1_000_000:g} MB."
    else:
        detail = exc.description or exc.name
    return _page(error=_error(status, detail)), status


def _error(status: int, detail: str, name: str | None = None) -> dict:
    detail = detail[:1].upper() + detail[1:]
    if not detail.endswith("."):
        detail += "."
    return {"status": status, "headline": HEADLINES.get(status, "That upload could not be read"),
            "detail": detail, "name": name}


def _page(**context):
    served = current_app.extensions["models"].model  # None while the first model loads
    return render_template("index.html", model=served, formats=preprocess.FORMAT_NAMES,
                           max_bytes=current_app.config["MAX_CONTENT_LENGTH"], **context)
