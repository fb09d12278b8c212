"""The JSON API: POST /predict."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from app import model
from app.errors import InputError
from app.reading import read_digits, upload_preview
from app.uploads import read_upload

bp = Blueprint("api", __name__)


@bp.post("/predict")
def predict():
    """Read the digits in the uploaded image."""
    mode = request.args.get("mode", "auto")
    if mode not in ("auto", "single"):
        raise InputError("mode must be 'auto' (read every digit) or 'single' (the whole image is one digit)")
    include = {part for part in request.args.get("include", "").split(",") if part}
    if include - {"input", "preview"}:
        raise InputError("include may only list 'input' (the 28x28 image each digit became) and 'preview' "
                         "(the upload as a small JPEG or PNG, upright), separated by a comma")
    data = read_upload("file")
    answer = read_digits(data, model.current(), current_app.config,
                         single=mode == "single", include_input="input" in include)
    if "preview" in include:
        url, (width, height) = upload_preview(data, current_app.config["MAX_IMAGE_PIXELS"])
        answer["preview"] = {"url": url, "width": width, "height": height}
    g.digits_read, g.model_version = answer["digits"], answer["model"]  # for the metrics and the log line
    return jsonify(answer)
