"""Load a SavedModel version and run it: `predict(batch) -> probabilities`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SIGNATURE_INPUT = "image"
log = logging.getLogger(__name__)


class ModelError(Exception):
    """The model folder is missing, empty or unreadable."""


def versions(root: str | Path) -> list[int]:
    """Numbered version folders holding a SavedModel, oldest first (TensorFlow Serving's layout)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [int(p.name) for p in root.iterdir()
             if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    return sorted(found)


def next_version(root: str | Path) -> int:
    root = Path(root)
    taken = [int(p.name) for p in root.iterdir() if p.name.isdigit()] if root.is_dir() else []
    return max(taken, default=0) + 1


def configure_threads(threads: int) -> None:
    """Size TensorFlow's thread pools; only possible before TensorFlow runs its first op."""
    if threads <= 0:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        log.debug("TensorFlow already initialised; thread settings left as they are")


@dataclass
class Model:
    """A loaded version: its concrete serving function and the metadata saved beside it."""

    version: str
    path: Path
    metadata: dict = field(default_factory=dict)
    _fn: object = None
    _loaded: object = None  # the signature needs its SavedModel object alive

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) float32 in 0..1 -> (n, 10) probabilities, in one call of the graph."""
        import tensorflow as tf

        outputs = self._fn(**{SIGNATURE_INPUT: tf.constant(batch, dtype=tf.float32)})
        return next(iter(outputs.values())).numpy()

    def warm_up(self) -> None:
        """Run one inference so the first request does not pay for graph set-up; raises if broken."""
        probs = self.predict(np.zeros((1, 28, 28, 1), dtype=np.float32))
        if probs.shape != (1, 10) or not np.isfinite(probs).all():
            raise ModelError(f"model at {self.path} gave output of shape {probs.shape}, expected (1, 10)")


def load(root: str | Path, version: int | None = None) -> Model:
    """Load `version` (default: the newest) from a MODEL_DIR, or raise ModelError naming the path."""
    root = Path(root)
    if version is None:
        found = versions(root)
        if not found:
            raise ModelError(f"no model found in {root.resolve()} (expected numbered folders "
                             "such as models/1/ holding a SavedModel; run `digits train`)")
        version = found[-1]
    path = root / str(version)
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        fn = loaded.signatures["serving_default"]
    except Exception as exc:
        raise ModelError(f"could not load the model at {path.resolve()}: {type(exc).__name__}") from None
    metadata_file = path / "metadata.json"
    try:
        metadata = json.loads(metadata_file.read_text()) if metadata_file.is_file() else {}
    except ValueError:
        raise ModelError(f"unreadable metadata file {metadata_file.resolve()}") from None
    model = Model(version=str(version), path=path, metadata=metadata, _fn=fn, _loaded=loaded)
    model.warm_up()
    return model
