"""Fixtures: the app built by the factory with the real shipped model, and its test client."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def pytest_configure(config):
    """Compiled models are kept in a cache folder of the test run's own (app/litert.py), shared by the
    servers and commands the tests start, never the user's."""
    cache = tempfile.mkdtemp(prefix="digits-test-cache-")
    config.stash[CACHE] = cache
    os.environ["XDG_CACHE_HOME"] = cache


def pytest_unconfigure(config):
    shutil.rmtree(config.stash.get(CACHE, ""), ignore_errors=True)


CACHE = pytest.StashKey[str]()


def wrk_path() -> str:
    """The wrk load generator: a test that needs it skips without it, and fails in CI, which installs it."""
    wrk = shutil.which("wrk")
    if wrk is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is required in CI (apt-get install wrk)")
        pytest.skip("wrk is not installed")
    return wrk


@pytest.fixture(scope="session")
def app():
    from app import create_app

    return create_app({"TESTING": True, "MODEL_POLL_SECONDS": 0})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def upload(client):
    """POST a file from tests/data (or raw bytes) to /predict and return the response."""

    def post(name_or_bytes, query: str = "", filename: str | None = None):
        if isinstance(name_or_bytes, bytes):
            data, filename = name_or_bytes, filename or "upload.png"
        else:
            data, filename = (DATA / name_or_bytes).read_bytes(), filename or name_or_bytes
        return client.post(f"/predict{query}", data={"file": (io.BytesIO(data), filename)},
                           content_type="multipart/form-data")

    return post
