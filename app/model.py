"""Load a SavedModel version and run it: `predict(batch) -> probabilities`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SIGNATURE_INPUT = "image"
# How the loaded SavedModel's signature is run: compiled with LiteRT with int8 weights, or in float (each
# falls back to the next when it fails or disagrees with the signature), or called in TensorFlow.
RUNTIMES = ("litert-int8", "litert", "tensorflow")
log = logging.getLogger(__name__)
# Native start-up lines: absl/glog lines ("I0000 00:00:1796121433.814832   30710 port.cc:153] ..."), absl's
# notice before its logging starts, and LiteRT's delegate notice.
NATIVE_CHATTER = re.compile(r"[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |WARNING: All log messages before absl"
                            r"|INFO: Created TensorFlow Lite XNNPACK delegate")


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


@contextlib.contextmanager
def native_output_held() -> Iterator[None]:
    """Drop TensorFlow's and LiteRT's start-up lines (no GPU found, oneDNN, XNNPACK) while they load (see
    configure_threads and load): native code writes them to stderr before absl's logging starts, whatever
    TF_CPP_MIN_LOG_LEVEL says. Every other line written meanwhile (this program's own log) is passed on, and
    all of them if loading fails."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    failed = False
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if failed or not NATIVE_CHATTER.match(line)))
            sys.stderr.flush()


def configure_threads(threads: int) -> None:
    """Size TensorFlow's thread pools; only possible before TensorFlow runs its first op."""
    if threads <= 0:
        return
    with native_output_held():  # the first import of TensorFlow, in the service
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
    _fn: Callable[[np.ndarray], np.ndarray] | None = None
    _loaded: object = None  # a TensorFlow signature needs its SavedModel object alive
    runtime: str = "tensorflow"  # what runs the signature: one of RUNTIMES

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) float32 in 0..1 -> (n, 10) probabilities, in one call of the graph."""
        return self._fn(batch)

    def warm_up(self) -> None:
        """Run one inference so the first request does not pay for graph set-up; raises if broken."""
        probs = self.predict(np.zeros((1, 28, 28, 1), dtype=np.float32))
        if probs.shape != (1, 10) or not np.isfinite(probs).all():
            raise ModelError(f"model at {self.path} gave output of shape {probs.shape}, expected (1, 10)")


def load(root: str | Path, version: int | None = None, *, runtime: str = "litert-int8",
         threads: int = 0) -> Model:
    """Load `version` (default: the newest) from a MODEL_DIR, or raise ModelError naming the path.

    `runtime` "litert-int8" or "litert" serves the signature compiled with LiteRT on `threads` threads (0:
    its default) when that gives the signature's own answers (see app.litert), else through TensorFlow.
    """
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown model runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    root = Path(root)
    if version is None:
        found = versions(root)
        if not found:
            raise ModelError(f"no model found in {root.resolve()} (expected numbered folders "
                             "such as models/1/ holding a SavedModel; run `digits train`)")
        version = found[-1]
    with native_output_held():
        return _load_version(root / str(version), runtime, threads)


def _load_version(path: Path, runtime: str, threads: int) -> Model:
    """The SavedModel at `path`, its signature run as `runtime` asks (see load), warmed up.

    A compiled copy is made by a short-lived process (app.litert), so a serving process that gets one never
    imports TensorFlow: it holds a few MB of weights instead of TensorFlow's few hundred.
    """
    version = path.name
    fn, loaded, used = None, None, "tensorflow"
    if runtime != "tensorflow":
        from app import litert

        compiled = litert.compiled_copy(path, runtime, threads)  # raises ModelError for a broken model
        if compiled is None:
            log.warning("serving model %s through TensorFlow", version)
        else:
            fn, used = compiled
    if fn is None:
        configure_threads(threads)
        fn, loaded = signature_function(path)
    metadata_file = path / "metadata.json"
    try:
        metadata = json.loads(metadata_file.read_text()) if metadata_file.is_file() else {}
    except ValueError:
        raise ModelError(f"unreadable metadata file {metadata_file.resolve()}") from None
    model = Model(version=str(version), path=path, metadata=metadata, _fn=fn, _loaded=loaded, runtime=used)
    try:
        model.warm_up()
    except ModelError:
        raise
    except Exception as exc:  # a graph that loads but cannot run on a 28x28x1 batch
        raise ModelError(f"the model at {path.resolve()} failed its warm-up inference: "
                         f"{type(exc).__name__}") from None
    return model


def signature_function(path: Path) -> tuple[Callable[[np.ndarray], np.ndarray], object]:
    """The SavedModel's serving signature as a function of a batch, and the loaded object it needs alive;
    ModelError naming the path when it cannot be loaded."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        graph = _runner(loaded.signatures["serving_default"])
    except Exception as exc:
        raise ModelError(f"could not load the model at {path.resolve()}: {type(exc).__name__}") from None

    def fn(batch: np.ndarray) -> np.ndarray:
        return graph(tf.constant(batch, dtype=tf.float32)).numpy()

    return fn, loaded


def _runner(signature) -> Callable:
    """The serving signature as a function of one tensor, called the quickest way that gives its answers.

    Calling the signature by keyword re-binds the arguments and re-maps the captured variables on every
    call: about 0.3 ms of a 1.3 ms single-digit call (py-spy; docs/PERFORMANCE.md). Its graph can be run
    directly with the inputs already flat; that relies on TensorFlow internals, so it is used only when
    present and when it gives the same answer as the public call on a test batch.
    """
    name = next(iter(signature.structured_outputs))

    def public(tensor):
        return signature(**{SIGNATURE_INPUT: tensor})[name]

    graph = getattr(signature, "_inference_function", None)
    if graph is None or len(signature.structured_outputs) != 1 or len(signature.inputs) - len(
            signature.captured_inputs) != 1:
        return public
    captured = list(signature.captured_inputs)

    def flat(tensor):
        return graph.call_flat(tensor, *captured)[0]

    import tensorflow as tf

    probe = tf.constant(np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32))
    try:
        agree = np.allclose(flat(probe).numpy(), public(probe).numpy(), atol=1e-6)
    except Exception:  # internals changed shape in this TensorFlow version
        agree = False
    if not agree:
        log.info("serving through the public signature call")
    return flat if agree else public


def current() -> Model:
    """The model for this request: read once per request, so a hot reload never changes it mid-request."""
    from flask import current_app
    from werkzeug.exceptions import ServiceUnavailable

    model = current_app.extensions["models"].model
    if model is None:
        raise ServiceUnavailable("the model is still loading; try again in a moment")
    return model


class ModelStore:
    """The version being served; newer versions found in MODEL_DIR are loaded, warmed up and swapped in."""

    def __init__(self, root: str | Path, *, runtime: str = "litert-int8", threads: int = 0) -> None:
        self.root = Path(root)
        self.runtime, self.threads = runtime, threads  # how every version is loaded (see load)
        self.model: Model | None = None  # replaced whole, never changed in place: readers need no lock
        self._listeners: list[Callable[[Model, Model | None], None]] = []
        self._refused: dict[int, tuple] = {}  # version -> its folder's state when refused
        self._lock = threading.Lock()  # one load at a time
        self._stop = threading.Event()

    @property
    def ready(self) -> bool:
        return self.model is not None

    def on_swap(self, listener: Callable[[Model, Model | None], None]) -> None:
        """Call `listener(new, old)` on every swap, and now for the model already served."""
        self._listeners.append(listener)
        if self.model is not None:
            listener(self.model, None)

    def load(self) -> Model:
        """Load the newest version now, or raise ModelError: the service cannot start without one."""
        with self._lock:
            self._swap(load(self.root, runtime=self.runtime, threads=self.threads))
        return self.model

    def refresh(self) -> Model | None:
        """Swap in the newest loadable version newer than the one served; return it, or None."""
        with self._lock:
            serving = int(self.model.version) if self.model else -1
            for version in reversed(versions(self.root)):
                if version <= serving:
                    break
                state = _folder_state(self.root / str(version))
                if self._refused.get(version) == state:
                    continue  # refused already; tried again only once its files change
                try:
                    model = load(self.root, version, runtime=self.runtime, threads=self.threads)
                except ModelError as exc:
                    self._refused[version] = state
                    log.error("model version %s refused, still serving version %s: %s",
                              version, self.model.version if self.model else "none", exc)
                    continue
                self._swap(model)
                return model
        return None

    def watch(self, every: float) -> None:
        """Check for new versions every `every` seconds from a daemon thread; 0 or less: never."""
        if every > 0:
            threading.Thread(target=self._poll, args=(every,), name="model-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _poll(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.refresh()
            except Exception:  # a watcher that dies would silently end hot reload
                log.exception("checking %s for new model versions failed", self.root)

    def _swap(self, model: Model) -> None:
        old, self.model = self.model, model
        log.info("serving model version %s from %s (runtime: %s)", model.version, model.path, model.runtime)
        for listener in self._listeners:
            listener(model, old)


def _folder_state(path: Path) -> tuple:
    """Names, sizes and modification times of a version's files: changes when the folder is rewritten."""
    try:
        return tuple(sorted((str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns)
                            for f in path.rglob("*") if f.is_file()))
    except OSError:  # files vanishing while we look: the next check sees the settled folder
        return ()
