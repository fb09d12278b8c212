"""The JSON API: POST /predict."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from app import model
from app.errors import InputError
from app.reading import read_digits
from app.uploads import read_upload

bp = Blueprint("api", __name__)


@bp.post("/predict")
def predict():
    """Read the digits in the uploaded image."""
    mode = request.args.get("mode", "auto")
    if mode not in ("auto", "single"):
        raise InputError("mode must be 'auto' (read every digit) or 'single' (the whole image is one digit)")
    include = {part for part in request.args.get("include", "").split(",") if part}
    if include - {"input"}:
        raise InputError("include may only be 'input' (the 28x28 image each digit became)")
    data = read_upload("file")
    answer = read_digits(data, model.current(), current_app.config,
                         single=mode == "single", include_input="input" in include)
    g.digits_read, g.model_version = answer["digits"], answer["model"]  # for the metrics and the log line
    return jsonify(answer)
