"""Hot reload: a new numbered folder in MODEL_DIR is loaded, warmed up and swapped in without a restart."""

from __future__ import annotations

import io
import json
import logging
import shutil
import threading
import time
from pathlib import Path

import pytest

from app import create_app

from .conftest import DATA, ROOT

SHIPPED = ROOT / "models"


def shipped_version() -> Path:
    return max((p for p in SHIPPED.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def add_version(root: Path, version: int) -> Path:
    """Copy the shipped model in as `version`: staged, then renamed whole (as `digits train` does)."""
    staging = root / f".{version}.partial"
    shutil.copytree(shipped_version(), staging)
    facts = json.loads((staging / "metadata.json").read_text())
    (staging / "metadata.json").write_text(json.dumps({**facts, "version": str(version)}))
    return staging.rename(root / str(version))


def add_broken_version(root: Path, version: int) -> Path:
    folder = add_version(root, version)
    (folder / "saved_model.pb").write_bytes(b"this is not a SavedModel")
    return folder


def add_wrong_output_version(root: Path, version: int) -> Path:
    """A SavedModel that loads but answers 5 numbers instead of 10: only the warm-up can tell."""
    import tensorflow as tf

    class FiveClasses(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
        def serve(self, image):
            return {"output_0": tf.fill([tf.shape(image)[0], 5], 0.2)}

    module = FiveClasses()
    tf.saved_model.save(module, str(root / str(version)), signatures={"serving_default": module.serve})
    return root / str(version)


@pytest.fixture
def model_dir(tmp_path):
    add_version(tmp_path, 1)
    return tmp_path


@pytest.fixture
def app(model_dir):
    return create_app({"TESTING": True, "MODEL_DIR": str(model_dir), "MODEL_POLL_SECONDS": 0})


@pytest.fixture
def client(app):
    return app.test_client()


def read(client):
    data = {"file": (io.BytesIO((DATA / "digit_7.png").read_bytes()), "digit_7.png")}
    return client.post("/predict", data=data, content_type="multipart/form-data")


def served(client) -> str:
    return client.get("/model").get_json()["version"]


def test_a_new_version_is_swapped_in_and_answers(app, client, model_dir):
    assert served(client) == "1" and read(client).get_json()["model"] == "1"
    add_version(model_dir, 2)
    assert app.extensions["models"].refresh().version == "2"
    assert served(client) == "2"
    assert read(client).get_json()["model"] == "2"
    assert "Model version 2" in client.get("/").get_data(as_text=True)  # the page names it too
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'digits_model_info{version="2"} 1.0' in metrics and 'digits_model_info{version="1"} 0.0' in metrics


def test_nothing_new_means_nothing_reloaded(app, client):
    assert app.extensions["models"].refresh() is None
    assert served(client) == "1"


@pytest.mark.parametrize("make_bad", [add_broken_version, add_wrong_output_version])
def test_a_bad_version_is_refused_once_and_the_old_keeps_serving(app, client, model_dir, caplog, make_bad):
    folder = make_bad(model_dir, 2)
    store = app.extensions["models"]
    with caplog.at_level(logging.ERROR, logger="app.model"):
        assert store.refresh() is None
        assert store.refresh() is None  # the same broken folder is not tried again
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "version 2 refused, still serving version 1" in refusals[0]
    assert served(client) == "1" and read(client).status_code == 200
    assert client.get("/readyz").status_code == 200

    shutil.rmtree(folder)  # fixed: a good model written in its place is tried again
    add_version(model_dir, 2)
    assert store.refresh().version == "2"
    assert served(client) == "2"


def test_a_request_in_flight_finishes_on_the_version_it_started_with(app, client, model_dir, monkeypatch):
    store = app.extensions["models"]
    old = store.model
    inside, release = threading.Event(), threading.Event()
    predict = old.predict

    def slow_predict(batch):
        inside.set()
        release.wait(60)
        return predict(batch)

    monkeypatch.setattr(old, "predict", slow_predict)
    answers = {}
    worker = threading.Thread(target=lambda: answers.update(slow=read(app.test_client())))
    worker.start()
    try:
        assert inside.wait(60), "the first request never reached the model"
        add_version(model_dir, 2)
        assert store.refresh().version == "2"
        assert read(client).get_json()["model"] == "2"  # new requests: the new version
    finally:
        release.set()
        worker.join(60)
    assert answers["slow"].status_code == 200 and answers["slow"].get_json()["model"] == "1"


def test_the_watcher_thread_picks_up_a_new_version_by_itself(model_dir):
    app = create_app({"TESTING": True, "MODEL_DIR": str(model_dir), "MODEL_POLL_SECONDS": 1})
    client = app.test_client()
    try:
        add_version(model_dir, 3)
        deadline = time.monotonic() + 120
        while served(client) != "3" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert served(client) == "3"
        assert client.get("/readyz").get_json() == {"status": "ready", "model": "3"}
    finally:
        app.extensions["models"].stop()
