"""Training: a short run exports a SavedModel version that the app factory loads and serves."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from app import train
from app.model import versions

from .conftest import DATA


def test_short_training_run_exports_a_servable_version(tmp_path):
    # A small MNIST file in Keras' layout, cut from the real test digits committed in tests/data.
    with np.load(DATA / "mnist_sample.npz") as sample:
        x, y = sample["x_test"], sample["y_test"]
    data = tmp_path / "mnist_small.npz"
    np.savez_compressed(data, x_train=x[:1500], y_train=y[:1500], x_test=x[1500:], y_test=y[1500:])
    out = tmp_path / "models"
    path = train.train(str(data), str(out), epochs=1, copies=1, limit=600, verbose=0)
    assert path == out / "1" and versions(out) == [1]
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["version"] == "1" and meta["epochs"] == 1 and 0 <= meta["test_accuracy"] <= 1
    assert len(meta["data_sha256"]) == 64

    from app import create_app

    client = create_app({"TESTING": True, "MODEL_DIR": str(out), "MODEL_POLL_SECONDS": 0}).test_client()
    image = io.BytesIO((DATA / "digit_7.png").read_bytes())
    response = client.post("/predict", data={"file": (image, "7.png")}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.get_json()["model"] == "1"
    # A second run adds the next version beside the first.
    assert train.next_version(out) == 2


def test_without_data_and_without_download_it_names_the_data_option(monkeypatch):
    import keras

    def unreachable():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", unreachable)
    with pytest.raises(SystemExit, match="--data"):
        train.load_mnist(None)


def test_missing_data_file_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no MNIST file"):
        train.load_mnist(str(tmp_path / "nope.npz"))


def test_typed_training_digits_are_digits_in_every_font():
    # An 8 has two loops in any font that draws digits; a symbol font (URW's Dingbats) draws a check mark.
    from PIL import Image, ImageDraw, ImageFont

    from app.augment import holes, training_fonts

    fonts = training_fonts()
    assert fonts, "no training fonts found (Debian: fonts-dejavu-core, fonts-urw-base35)"
    for font in fonts:
        canvas = Image.new("L", (84, 84), 0)
        ImageDraw.Draw(canvas).text((42, 42), "8", fill=255, font=ImageFont.truetype(font, 60), anchor="mm")
        assert holes(np.asarray(canvas) >= 128) == 2, font


def test_training_adds_ones_with_a_flag_and_sevens_with_a_bar():
    # Writers outside the US flag their 1s and cross their 7s; MNIST has few of either.
    from PIL import Image

    from app.augment import other_hands

    with np.load(DATA / "mnist_sample.npz") as sample:
        x, y = sample["x_test"][:400], sample["y_test"][:400]
    images, labels = other_hands(x, y, seed=1)
    assert set(labels.tolist()) == {1, 7}
    assert images.shape[1:] == (84, 84) and len(images) == len(labels)
    ones, sevens = (y == 1).sum(), (y == 7).sum()
    assert 0.1 * ones <= (labels == 1).sum() <= 0.5 * ones and (labels == 7).sum() <= 0.5 * sevens
    # Each is its digit with a stroke added: more ink than the same digits without it, at the same size.
    plain = [np.asarray(Image.fromarray(d).resize((84, 84), Image.BICUBIC)) for d in x[y == 1]]
    flagged = [(image >= 128).sum() for image in images[labels == 1]]
    assert np.mean(flagged) > np.mean([(p >= 128).sum() for p in plain])
