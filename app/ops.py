"""Operating endpoints: liveness, readiness, model metadata, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from werkzeug.exceptions import ServiceUnavailable

from app import model, openapi

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive and answering."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready to read digits: a model is loaded and passed its warm-up inference."""
    if not current_app.extensions["models"].ready:
        raise ServiceUnavailable("not ready: the model is still loading")
    return {"status": "ready", "model": model.current().version}


@bp.get("/model")
def model_info():
    """The model being served: version, MNIST test accuracy, input shape, classes and training date."""
    served = model.current()
    facts = served.metadata
    return {
        "version": served.version,
        "test_accuracy": facts.get("test_accuracy"),
        "input_shape": facts.get("input_shape", [28, 28, 1]),
        "classes": facts.get("classes", list(range(10))),
        "trained_at": facts.get("trained_at"),
        "runtime": served.runtime,
    }


@bp.get("/metrics")
def metrics():
    """Prometheus metrics, summed over all gunicorn workers."""
    body, content_type = current_app.extensions["metrics"].exposition()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi_json():
    """This service's OpenAPI 3 description."""
    return jsonify(openapi.spec(current_app))
