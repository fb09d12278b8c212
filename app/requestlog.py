"""One JSON log line per request on stdout, and a request id echoed in the X-Request-ID header."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, current_app, g, request

HEADER = "X-Request-ID"
# A caller's id is kept only if it is short and plain, so it cannot forge log lines or headers.
VALID_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
log = logging.getLogger("app.requests")


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON; a request's fields come in the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "pid": record.process,
                "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


class StdoutHandler(logging.StreamHandler):
    """Writes to sys.stdout as it is at each record: gunicorn and test runners replace it."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def init_app(app: Flask) -> None:
    """Log every request of `app`; the service's other log lines ("app.*" loggers) become JSON too."""
    logger = logging.getLogger("app")  # Flask's app.logger; set up here, Flask adds no handler of its own
    if not any(isinstance(h, StdoutHandler) for h in logger.handlers):
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if VALID_ID.fullmatch(given) else uuid.uuid4().hex
    g.log_started = time.perf_counter()


def _finish(response):
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[HEADER] = request_id
    store = current_app.extensions.get("models")
    serving = store.model.version if store is not None and store.model is not None else None
    fields = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.get("log_started", time.perf_counter())) * 1000, 2),
        "digits": g.get("digits_read"),
        "model": g.get("model_version") or serving,
        "request_id": request_id,
    }
    if current_app.config.get("REQUEST_LOG", True):
        log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields})
    return response
