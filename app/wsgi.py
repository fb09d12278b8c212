"""The WSGI entry point gunicorn calls: `app.wsgi:create()` in each worker."""

from __future__ import annotations

import logging
import sys

from flask import Flask

from app import create_app
from app.model import ModelError

WORKER_BOOT_ERROR = 3  # gunicorn's exit code for a worker that cannot boot: the master stops too


def create() -> Flask:
    """Build the app in a worker; a missing or broken model stops the whole server with one line."""
    try:
        return create_app()
    except ModelError as exc:
        logging.getLogger("gunicorn.error").error("error: %s", exc)
        sys.exit(WORKER_BOOT_ERROR)
