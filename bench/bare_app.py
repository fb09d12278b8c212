"""The benchmark's ceiling: the product's request handling with no image work and no model.

Served only by bench/load.py, with the product's gunicorn config:
`gunicorn -c python:app.gunicorn_conf 'bench.bare_app:create()'`.
"""

from __future__ import annotations

from flask import Flask, jsonify

from app import config
from app.errors import register_error_handlers
from app.uploads import InMemoryRequest, read_upload

ANSWER = {"digits": "7", "digit": 7, "confidence": 1.0, "probabilities": [0.0] * 7 + [1.0] + [0.0] * 2,
          "predictions": [], "model": "bare"}


def create() -> Flask:
    """A Flask app whose POST /predict reads the upload like the product does and returns a fixed answer."""
    app = Flask(__name__)
    app.config.from_mapping(config.from_env())
    app.request_class = InMemoryRequest  # the same multipart parsing as the product
    app.json.sort_keys = False
    register_error_handlers(app)

    @app.post("/predict")
    def predict():
        """Read the upload, answer without looking at it."""
        read_upload("file")
        return jsonify(ANSWER)

    return app
