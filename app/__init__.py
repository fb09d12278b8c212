"""Handwritten digit recognition service: a Flask application factory."""

from __future__ import annotations

from flask import Flask

from app import config
from app.config import ROOT


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings, the loaded model, routes and error handlers."""
    from app import api, errors, headers, model, ops, pages, requestlog
    from app.metrics import Metrics
    from app.uploads import InMemoryRequest

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.from_mapping(config.from_env())
    if test_config:
        app.config.update(test_config)
    app.request_class = InMemoryRequest
    app.json.sort_keys = False

    requestlog.init_app(app)
    app.extensions["models"] = store = model.ModelStore(
        app.config["MODEL_DIR"], runtime=app.config["MODEL_RUNTIME"], threads=app.config["TF_THREADS"])
    store.load()  # raises ModelError: no service without a model
    Metrics(app)

    errors.register_error_handlers(app)
    headers.register_security_headers(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(ops.bp)
    store.watch(app.config["MODEL_POLL_SECONDS"])  # hot reload of new versions in MODEL_DIR
    return app
