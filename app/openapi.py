"""The OpenAPI 3 description of the service, built from the app's routes (served at /openapi.json)."""

from __future__ import annotations

import re
from importlib import metadata

from flask import Flask

from app import preprocess

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    words = {400: "Bad request: no file part, an empty file, several files or a bad query value",
             413: "Too large: the upload, the number of form parts or the image's pixel count",
             415: "Not an image this service can decode", 422: "No digit found in the image",
             503: "The model is still loading"}
    return {str(status): _json(ERROR, words[status]) for status in statuses}


def _page(description: str) -> dict:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


UPLOAD = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "additionalProperties": False,
    "properties": {"file": {"type": "string", "format": "binary", "minLength": 1,
                            "description": f"{preprocess.FORMAT_NAMES}; at most 10 MB"}}}}}}

# What each endpoint takes and answers; an endpoint missing here is listed as undocumented.
OPERATIONS = {
    "api.predict": {
        "parameters": [
            {"name": "mode", "in": "query", "required": False, "description":
             "auto: read every digit; single: the whole image is one digit",
             "schema": {"type": "string", "enum": ["auto", "single"], "default": "auto"}},
            {"name": "include", "in": "query", "required": False, "description":
             "input: add the 28x28 image each digit became, as a PNG data URL; preview: add the upload, "
             "upright, at most 640 px a side, as a JPEG or PNG data URL with the size its boxes refer to; "
             "both: input,preview",
             "schema": {"type": "string", "enum": ["input", "preview", "input,preview", "preview,input"]}},
        ],
        "requestBody": UPLOAD,
        "responses": {"200": _json({"$ref": "#/components/schemas/Reading"}, "The digits read"),
                      **_errors(400, 413, 415, 422, 503)},
    },
    "pages.index": {"responses": {"200": _page("The upload page")}},
    "pages.read": {"requestBody": UPLOAD, "responses": {
        "200": _page("The page with the digits read"),
        **{str(s): _page("The page explaining what was wrong") for s in (400, 413, 415, 422)}}},
    "ops.healthz": {"responses": {"200": _json(
        {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["ok"]}}},
        "The process is alive")}},
    "ops.readyz": {"responses": {"200": _json(
        {"type": "object", "required": ["status", "model"],
         "properties": {"status": {"enum": ["ready"]}, "model": {"type": "string"}}},
        "A model is loaded and passed its warm-up inference"), **_errors(503)}},
    "ops.model_info": {"responses": {
        "200": _json({"$ref": "#/components/schemas/ModelInfo"}, "The model being served"),
        **_errors(503)}},
    "ops.metrics": {"responses": {"200": {"description": "Prometheus text exposition format",
                                          "content": {"text/plain": {"schema": {"type": "string"}}}}}},
    "ops.openapi_json": {"responses": {"200": _json({"type": "object"}, "This document")}},
}

PREDICTION = {
    "type": "object", "required": ["digit", "confidence", "probabilities", "box"],
    "properties": {
        "digit": {"type": "integer", "minimum": 0, "maximum": 9},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "probabilities": {"type": "array", "items": {"type": "number"}, "minItems": 10, "maxItems": 10},
        "box": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 4, "maxItems": 4,
                "description": "x, y, width, height in the upload's pixels, turned upright"},
        "input": {"type": "string", "pattern": "^data:image/png;base64,"},
    },
}
SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Prediction": PREDICTION,
    "Reading": {
        "type": "object",
        "required": ["digits", "digit", "confidence", "probabilities", "predictions", "model"],
        "properties": {
            "digits": {"type": "string", "pattern": "^[0-9]+$",
                       "description": "every digit, left to right (by line, top to bottom)"},
            "digit": {"type": "integer", "minimum": 0, "maximum": 9, "nullable": True},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1, "nullable": True},
            "probabilities": {**PREDICTION["properties"]["probabilities"], "nullable": True},
            "predictions": {"type": "array", "minItems": 1,
                            "items": {"$ref": "#/components/schemas/Prediction"}},
            "model": {"type": "string", "description": "the model version that read them"},
            "preview": {"type": "object", "required": ["url", "width", "height"],
                        "description": "with include=preview: the upload, upright, and the size in pixels "
                                       "its boxes refer to",
                        "properties": {"url": {"type": "string", "pattern": "^data:image/(jpeg|png);base64,"},
                                       "width": {"type": "integer", "minimum": 1},
                                       "height": {"type": "integer", "minimum": 1}}},
        },
    },
    "ModelInfo": {
        "type": "object",
        "required": ["version", "test_accuracy", "input_shape", "classes", "trained_at", "runtime"],
        "properties": {
            "version": {"type": "string"},
            "test_accuracy": {"type": "number", "minimum": 0, "maximum": 1, "nullable": True},
            "input_shape": {"type": "array", "items": {"type": "integer"}},
            "classes": {"type": "array", "items": {"type": "integer"}},
            "trained_at": {"type": "string", "nullable": True},
            "runtime": {"type": "string", "enum": ["litert-int8", "litert", "tensorflow"],
                        "description": "what runs the SavedModel's signature (see MODEL_RUNTIME)"},
        },
    },
}
REQUEST_ID = {"description": "The caller's request id (letters, digits and ._:/+=-, at most 128) "
                             "or a generated one", "schema": {"type": "string"}}


def spec(app: Flask) -> dict:
    """Every route of `app` (static files aside), with what OPERATIONS says about it."""
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        doc = (app.view_functions[rule.endpoint].__doc__ or "").strip().splitlines()
        details = OPERATIONS.get(rule.endpoint, {"responses": {"default": {"description": "undocumented"}}})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = {"operationId": rule.endpoint.replace(".", "_"), "summary": doc[0] if doc else "",
                         "parameters": [{"name": "X-Request-ID", "in": "header", "required": False,
                                         "schema": {"type": "string"}}, *details.get("parameters", [])],
                         **{k: v for k, v in details.items() if k != "parameters"}}
            operation["responses"] = {status: {**answer, "headers": {"X-Request-ID": REQUEST_ID}}
                                      for status, answer in details["responses"].items()}
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Handwritten digit recognition", "version": _version(),
                 "description": "Upload an image; get the digits in it, read by a convolutional network "
                                "trained on MNIST. Every error is JSON: {\"error\": \"...\"}."},
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }


def _version() -> str:
    try:
        return metadata.version("digits")
    except metadata.PackageNotFoundError:
        return "0"
