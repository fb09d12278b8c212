"""The loaded SavedModel's serving signature compiled for inference with LiteRT (XNNPACK kernels).

The SavedModel stays the model: it is loaded and checked first, and its signature is what gets compiled,
in memory, by TensorFlow's own converter. The compiled copy serves only if it gives the signature's own
answers on a probe batch. It saves most of TensorFlow's per-call executor work: 0.36 ms instead of 0.94 ms
for a one-digit call on one core (`python -m bench.stages`, docs/PERFORMANCE.md).
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
TOLERANCE = 1e-5  # largest difference in any probability allowed between the two runtimes
log = logging.getLogger(__name__)


class CompiledModel:
    """Interpreters over one compiled model, one per concurrent caller: an interpreter is not thread-safe.

    An idle interpreter is reused; a caller that finds none idle makes another, so a worker ends with as
    many as it has threads. Each keeps the input shape of its last call, so consecutive calls with the same
    number of digits skip re-planning the graph.
    """

    def __init__(self, flatbuffer: bytes, input_name: str, threads: int) -> None:
        self._flatbuffer, self._input_name, self._threads = flatbuffer, input_name, threads
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
                      threads: int) -> CompiledModel | None:
    """The SavedModel's serving signature compiled with LiteRT, or None (with a log line saying why) when
    conversion fails or its answers differ from `reference`, the loaded signature's own call."""
    import tensorflow as tf

    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(path), signature_keys=[SIGNATURE])
        compiled = CompiledModel(converter.convert(), input_name, threads)
        probe = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
        difference = float(np.abs(compiled(probe) - reference(probe)).max())
    except Exception as exc:  # no LiteRT for this platform, an op it lacks, a converter failure
        log.warning("LiteRT could not compile the model (%s: %s); serving through TensorFlow",
                    type(exc).__name__, exc)
        return None
    if not difference <= TOLERANCE:
        log.warning("LiteRT's answers differ from the SavedModel's by %.2g; serving through TensorFlow",
                    difference)
        return None
    return compiled


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
