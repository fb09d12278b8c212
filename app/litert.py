"""The loaded SavedModel's serving signature compiled for inference with LiteRT (XNNPACK kernels).

The SavedModel stays the model: it is loaded and checked first, and its signature is what gets compiled,
in memory, by TensorFlow's own converter, with int8 weights or in float. A compiled copy serves only if it
gives the signature's own answers on the probe digits saved with the model. A one-digit call on one core:
0.11 ms with int8 weights, 0.35 ms in float, 0.94 ms through TensorFlow (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import queue
from collections.abc import Callable
from pathlib import Path

import numpy as np

SIGNATURE = "serving_default"
TOLERANCE = 1e-5  # largest difference in any probability allowed between a float copy and the SavedModel
QUANTIZED_TOLERANCE = 0.05  # and for an int8 copy (measured: at most 0.027 over the 10,000 MNIST test digits)
PROBE_FILE = "probe.npz"  # real digits saved with the model, as model inputs, to check compiled copies on
log = logging.getLogger(__name__)


class CompiledModel:
    """Interpreters over one compiled model, one per concurrent caller: an interpreter is not thread-safe.

    An idle interpreter is reused; a caller that finds none idle makes another, so a worker ends with as
    many as it has threads. Each keeps the input shape of its last call, so consecutive calls with the same
    number of digits skip re-planning the graph.
    """

    def __init__(self, flatbuffer: bytes, input_name: str, threads: int, *, quantized: bool = False) -> None:
        self._flatbuffer, self._input_name, self._threads = flatbuffer, input_name, threads
        self.quantized = quantized  # int8 weights
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._idle.put(self._interpreter())

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) float32 -> (n, 10) probabilities."""
        try:
            runner = self._idle.get_nowait()
        except queue.Empty:
            runner = self._interpreter()
        try:
            outputs = runner(**{self._input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        finally:
            self._idle.put(runner)
        (probabilities,) = outputs.values()
        return probabilities

    def _interpreter(self) -> Callable:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_content=self._flatbuffer, num_threads=self._threads or None)
        return interpreter.get_signature_runner(SIGNATURE)


def compile_signature(path: Path, input_name: str, reference: Callable[[np.ndarray], np.ndarray],
                      threads: int, *, quantize: bool = False) -> tuple[CompiledModel, str] | None:
    """The SavedModel's serving signature compiled with LiteRT, and the runtime's name; or None (with a log
    line saying why) when conversion fails or its answers differ from `reference`, the signature's own call.

    `quantize` first tries int8 weights (dynamic-range quantisation: activations stay float, so nothing is
    calibrated): three times quicker than float on this network. That copy serves only if it gives every
    probe digit the float model's answer, each probability within QUANTIZED_TOLERANCE; else the float copy.
    """
    probe = load_probe(path)
    if quantize:
        if probe is None:
            log.warning("no %s in %s to check an int8 copy against; compiling in float", PROBE_FILE, path)
        else:
            compiled = _compile(path, input_name, reference, threads, probe, quantize=True)
            if compiled is not None:
                return compiled, "litert-int8"
    if probe is None:
        probe = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    compiled = _compile(path, input_name, reference, threads, probe, quantize=False)
    return (compiled, "litert") if compiled is not None else None


def load_probe(path: Path) -> np.ndarray | None:
    """The probe digits saved beside the model, (n, 28, 28, 1) float32 in 0..1, or None."""
    try:
        with np.load(path / PROBE_FILE) as saved:
            images = saved["images"]
    except (OSError, KeyError, ValueError):
        return None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or not len(images):
        return None
    return (images.astype(np.float32) / 255.0)[..., None]


def save_probe(folder: Path, digits: np.ndarray) -> None:
    """Save model inputs (n, 28, 28) in 0..1 as the probe a compiled copy is checked on at load."""
    images = np.clip(np.round(np.asarray(digits, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    np.savez_compressed(folder / PROBE_FILE, images=images)


def _compile(path: Path, input_name: str, reference: Callable[[np.ndarray], np.ndarray], threads: int,
             probe: np.ndarray, *, quantize: bool) -> CompiledModel | None:
    import tensorflow as tf

    kind = "int8" if quantize else "float"
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(path), signature_keys=[SIGNATURE])
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: weights only
        compiled = CompiledModel(converter.convert(), input_name, threads, quantized=quantize)
        # In uploads' batch sizes: one large batch would leave both runtimes holding its working memory.
        answers, expected = _by_parts(compiled, probe), _by_parts(reference, probe)
    except Exception as exc:  # no LiteRT for this platform, an op it lacks, a converter failure
        log.warning("LiteRT could not compile the %s copy of the model (%s: %s)", kind, type(exc).__name__,
                    exc)
        return None
    difference = float(np.abs(answers - expected).max())
    changed = int((answers.argmax(axis=1) != expected.argmax(axis=1)).sum())
    tolerance = QUANTIZED_TOLERANCE if quantize else TOLERANCE
    if not difference <= tolerance or changed:
        log.warning("LiteRT's %s copy differs from the SavedModel: probabilities by up to %.2g, %d of %d "
                    "answers changed", kind, difference, changed, len(probe))
        return None
    return compiled


def _by_parts(predict: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, size: int = 8) -> np.ndarray:
    return np.concatenate([predict(batch[start:start + size]) for start in range(0, len(batch), size)])


def release_memory() -> None:
    """Hand the converter's working memory (and TensorFlow objects just dropped) back to the system.

    glibc keeps freed memory for reuse, about 30 MB of it after a conversion; with two workers that is the
    difference between staying under the 1 GB budget or not. Elsewhere than glibc, nothing to do.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
