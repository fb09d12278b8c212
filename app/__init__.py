"""Handwritten digit recognition service: a Flask application factory."""

from __future__ import annotations

from flask import Flask

from app import config
from app.config import ROOT


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings, the loaded model, routes and error handlers."""
    from app import api, errors, model, pages
    from app.uploads import InMemoryRequest

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.from_mapping(config.from_env())
    if test_config:
        app.config.update(test_config)
    app.request_class = InMemoryRequest
    app.json.sort_keys = False

    model.configure_threads(app.config["TF_THREADS"])
    app.extensions["model"] = model.load(app.config["MODEL_DIR"])

    errors.register_error_handlers(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    return app
