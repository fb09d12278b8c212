"""The shipped model: loaded from models/, accurate on real MNIST test digits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from app import litert, model
from app.augment import normalize
from app.config import DEFAULT_MODEL_DIR

from .conftest import DATA

REAL_RUN = subprocess.run


@pytest.fixture(scope="module")
def shipped():
    return model.load(DEFAULT_MODEL_DIR)


def test_shipped_model_has_its_metadata_beside_it(shipped):
    meta = json.loads((shipped.path / "metadata.json").read_text())
    assert meta["version"] == shipped.version
    assert meta["input_shape"] == [28, 28, 1] and meta["classes"] == list(range(10))
    assert meta["test_accuracy"] >= 0.996
    assert {"trained_at", "epochs", "data_sha256"} <= meta.keys()


def test_accuracy_on_2000_real_mnist_test_digits(shipped):
    with np.load(DATA / "mnist_sample.npz") as sample:
        images, labels = sample["x_test"], sample["y_test"]
    # The digits take the same path as an uploaded 28x28 PNG.
    batch = np.stack([normalize(image) for image in images])[..., None]
    predicted = shipped.predict(batch).argmax(axis=1)
    accuracy = (predicted == labels).mean()
    assert accuracy >= 0.993, f"accuracy {accuracy:.4f}"


def test_a_shifted_digit_keeps_its_label(shipped):
    with np.load(DATA / "mnist_sample.npz") as sample:
        image, label = sample["x_test"][0], sample["y_test"][0]
    shifted = np.roll(np.pad(image, 20), (13, -9), axis=(0, 1))
    batch = np.stack([normalize(image), normalize(shifted)])[..., None]
    assert list(shipped.predict(batch).argmax(axis=1)) == [label, label]


def test_missing_model_dir_names_the_path(tmp_path):
    with pytest.raises(model.ModelError, match=str(tmp_path)):
        model.load(tmp_path)


def test_unreadable_model_names_the_path(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"not a model")
    with pytest.raises(model.ModelError, match="could not load"):
        model.load(tmp_path)


def _real_batch(count: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA / "mnist_sample.npz") as sample:
        images, labels = sample["x_test"][:count], sample["y_test"][:count]
    return np.stack([normalize(image) for image in images])[..., None], labels


@pytest.fixture(scope="module")
def in_tensorflow():
    return model.load(DEFAULT_MODEL_DIR, runtime="tensorflow")


def test_the_quick_call_gives_the_signatures_own_answers(in_tensorflow):
    import tensorflow as tf

    batch, _ = _real_batch(16)
    signature = in_tensorflow._loaded.signatures["serving_default"]
    public = next(iter(signature(image=tf.constant(batch)).values())).numpy()
    np.testing.assert_allclose(in_tensorflow.predict(batch), public, atol=1e-6)


def test_without_tensorflow_internals_the_public_call_serves(in_tensorflow):
    class PublicOnly:  # a signature object offering only the documented call
        def __init__(self, signature):
            self.signature = signature
            self.structured_outputs = signature.structured_outputs
            self.inputs, self.captured_inputs = signature.inputs, signature.captured_inputs

        def __call__(self, **kwargs):
            return self.signature(**kwargs)

    runner = model._runner(PublicOnly(in_tensorflow._loaded.signatures["serving_default"]))
    assert runner.__name__ == "public"
    batch, labels = _real_batch(16)
    probs = runner(batch).numpy()
    np.testing.assert_allclose(probs, in_tensorflow.predict(batch), atol=1e-6)  # the same answers either way
    assert (probs.argmax(axis=1) == labels).mean() >= 0.9



def test_the_shipped_model_is_served_with_int8_weights_giving_the_signatures_answers(shipped, in_tensorflow):
    assert shipped.runtime == "litert-int8"
    batch, labels = _real_batch(32)
    for size in (1, 5, 32, 1):  # the batch size changes between calls, as it does between uploads
        answers, expected = shipped.predict(batch[:size]), in_tensorflow.predict(batch[:size])
        np.testing.assert_array_equal(answers.argmax(axis=1), expected.argmax(axis=1))
        np.testing.assert_allclose(answers, expected, atol=litert.QUANTIZED_TOLERANCE)
    assert (shipped.predict(batch).argmax(axis=1) == labels).mean() >= 0.95


def test_a_digits_answer_does_not_depend_on_the_others_in_its_upload(shipped):
    batch, _ = _real_batch(8)
    alone = np.concatenate([shipped.predict(batch[i:i + 1]) for i in range(len(batch))])
    together = shipped.predict(np.concatenate([batch, np.ones_like(batch[:2]), np.zeros_like(batch[:1])]))
    np.testing.assert_array_equal(together[:len(batch)], alone)  # int8 inputs are scaled digit by digit


def test_the_float_runtime_gives_the_signatures_answers(in_tensorflow):
    compiled = model.load(DEFAULT_MODEL_DIR, runtime="litert")
    assert compiled.runtime == "litert"
    batch, _ = _real_batch(32)
    for size in (1, 5, 32):
        np.testing.assert_allclose(compiled.predict(batch[:size]), in_tensorflow.predict(batch[:size]),
                                   atol=litert.TOLERANCE)


def test_concurrent_callers_each_get_their_own_answers(shipped):
    from concurrent.futures import ThreadPoolExecutor

    batch, _ = _real_batch(24)
    expected = shipped.predict(batch)
    slices = [slice(i % 7, i % 7 + 1 + i % 5) for i in range(64)]  # different images and batch sizes
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda part: shipped.predict(batch[part]), slices))
    for part, answer in zip(slices, answers, strict=True):
        np.testing.assert_allclose(answer, expected[part], atol=1e-6)


def shipped_folder():
    """The newest version folder in models/, the one the service serves."""
    return max((p for p in DEFAULT_MODEL_DIR.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def test_without_probe_digits_the_float_copy_serves(tmp_path, caplog):
    copy = tmp_path / "2"
    shutil.copytree(shipped_folder(), copy)
    (copy / litert.PROBE_FILE).unlink()
    loaded = model.load(tmp_path)
    assert loaded.runtime == "litert"
    assert "no probe.npz" in caplog.text


def test_when_the_int8_copy_changes_an_answer_the_float_copy_serves(monkeypatch, caplog):
    real_call = litert.CompiledModel.__call__

    def int8_swaps_two_classes(self, batch):
        answers = real_call(self, batch)
        return answers[:, [1, 0, *range(2, 10)]] if self.quantized else answers

    monkeypatch.setattr(litert.CompiledModel, "__call__", int8_swaps_two_classes)
    compiled = litert.compile_version(shipped_folder(), "litert-int8")  # the compiling process's work
    assert compiled.runtime == "litert"
    assert "int8 copy differs" in caplog.text


def test_when_litert_cannot_compile_tensorflow_serves(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("converter unavailable")

    monkeypatch.setattr(litert.CompiledModel, "__init__", broken)
    assert litert.compile_version(shipped_folder(), "litert-int8") is None
    loaded = model.load(DEFAULT_MODEL_DIR)  # compiled elsewhere, but LiteRT cannot run it in this process
    assert loaded.runtime == "tensorflow"
    assert f"serving model {loaded.version} through TensorFlow" in caplog.text
    batch, labels = _real_batch(16)
    assert (loaded.predict(batch).argmax(axis=1) == labels).mean() >= 0.9


def test_when_litert_disagrees_tensorflow_serves(monkeypatch, caplog):
    monkeypatch.setattr(litert.CompiledModel, "__call__", lambda self, batch: np.full((len(batch), 10), 0.1))
    assert litert.compile_version(shipped_folder(), "litert") is None
    assert "differs" in caplog.text
    caplog.clear()
    assert model.load(DEFAULT_MODEL_DIR).runtime == "tensorflow"
    assert "answers differently in this process" in caplog.text


def test_a_serving_process_never_imports_tensorflow():
    script = ("import sys; from app import model; loaded = model.load(sys.argv[1]); "
              "print(loaded.runtime, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script, str(DEFAULT_MODEL_DIR)], capture_output=True,
                          text=True, timeout=300, check=True)
    assert done.stdout.split() == ["litert-int8", "False"]


def test_a_version_is_compiled_once_and_its_bytes_reused(monkeypatch, tmp_path):
    first = model.load(DEFAULT_MODEL_DIR)

    def no_second_compile(*args):
        raise AssertionError("compiled again")

    monkeypatch.setattr(litert, "_compile_elsewhere", no_second_compile)
    again = model.load(DEFAULT_MODEL_DIR)  # as a gunicorn worker does with what the master compiled
    assert (again.runtime, again.version) == (first.runtime, first.version)
    batch, _ = _real_batch(8)
    np.testing.assert_array_equal(again.predict(batch), first.predict(batch))
    shutil.copytree(shipped_folder(), tmp_path / "7")  # the same files elsewhere compile the same
    copy = model.load(tmp_path)
    assert copy.version == "7"
    np.testing.assert_array_equal(copy.predict(batch), first.predict(batch))


def test_when_the_compiling_process_dies_tensorflow_serves_and_it_is_tried_again(monkeypatch, tmp_path,
                                                                                 caplog):
    copy = tmp_path / "3"
    shutil.copytree(shipped_folder(), copy)
    (copy / "notes.txt").write_text("a version of its own, never compiled before")
    real_run = subprocess.run

    def killed(*args, **kwargs):
        return subprocess.CompletedProcess(args, -9, stdout=b"", stderr=b"")

    monkeypatch.setattr(subprocess, "run", killed)
    assert model.load(tmp_path).runtime == "tensorflow"
    assert "was killed (SIGKILL), most likely for want of memory" in caplog.text
    monkeypatch.setattr(subprocess, "run", real_run)
    assert model.load(tmp_path).runtime == "litert-int8"


def test_another_process_reads_the_compiled_copy_from_the_cache_folder(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(litert, "_compiled", {})  # a new process: nothing compiled in memory
    first = model.load(DEFAULT_MODEL_DIR)
    (kept,) = (tmp_path / "cache" / "digits" / "compiled").glob("*.npz")
    runs = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: runs.append(args))
    monkeypatch.setattr(litert, "_compiled", {})
    again = model.load(DEFAULT_MODEL_DIR)
    assert runs == [] and again.runtime == first.runtime == "litert-int8"
    batch, _ = _real_batch(8)
    np.testing.assert_array_equal(again.predict(batch), first.predict(batch))
    monkeypatch.setattr(subprocess, "run", REAL_RUN)

    kept.write_bytes(b"half a file")  # unreadable: compiled again, and kept again
    monkeypatch.setattr(litert, "_compiled", {})
    assert model.load(DEFAULT_MODEL_DIR).runtime == "litert-int8"
    assert "ignoring an unreadable compiled copy" in caplog.text
    assert kept.read_bytes().startswith(b"PK")  # an .npz again


def test_a_cache_folder_others_can_write_to_is_not_used(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "digits" / "compiled").mkdir(parents=True)
    (tmp_path / "digits" / "compiled").chmod(0o777)  # someone could plant a model there
    monkeypatch.setattr(litert, "_compiled", {})
    assert model.load(DEFAULT_MODEL_DIR).runtime == "litert-int8"
    assert list((tmp_path / "digits" / "compiled").iterdir()) == []


def test_a_rewritten_version_is_compiled_again(tmp_path):
    copy = tmp_path / "2"
    shutil.copytree(shipped_folder(), copy)
    assert model.load(tmp_path).runtime == "litert-int8"
    (copy / "saved_model.pb").write_bytes(b"not a model any more")
    with pytest.raises(model.ModelError, match="could not load"):
        model.load(tmp_path)


def test_an_unknown_runtime_is_refused():
    with pytest.raises(model.ModelError, match="unknown model runtime"):
        model.load(DEFAULT_MODEL_DIR, runtime="onnx")
