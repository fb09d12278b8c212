"""The loaded SavedModel's serving signature compiled for inference with LiteRT (XNNPACK kernels).

The SavedModel stays the model: it is loaded and checked first, and its signature is what gets compiled,
in memory, by TensorFlow's own converter, with int8 weights or in float. A compiled copy serves only if it
gives the signature's own answers on the probe digits saved with the model. A one-digit call on one core:
0.11 ms with int8 weights, 0.35 ms in float, 0.94 ms through TensorFlow (docs/PERFORMANCE.md).

The compiling is done by a short-lived process (`python -m app.litert FOLDER RUNTIME`), which imports
TensorFlow, loads the SavedModel, compiles and checks the copy, and hands back the compiled bytes with the
probe answers they gave. The serving process builds its interpreters from those bytes and never imports
TensorFlow (about 550 MB less per gunicorn worker). The bytes are kept by the content of a version's
folder, so the gunicorn master compiles once before it starts the workers (app/gunicorn_conf.py), and a
worker it starts, at first or after a crash, has them already. They are also saved in the user's cache
folder, so the next process to load the same files with the same code and packages (a restart, the other
worker on a hot reload, `digits predict`) reads them instead of compiling.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.model import (
    RUNTIMES,
    SIGNATURE_INPUT,
    ModelError,
    configure_threads,
    native_output_held,
    signature_function,
    versions,
)

SIGNATURE = "serving_default"
TOLERANCE = 1e-5  # largest difference in any probability allowed between a float copy and the SavedModel
QUANTIZED_TOLERANCE = 0.05  # and for an int8 copy (measured: at most 0.027 over the 10,000 MNIST test digits)
PROBE_FILE = "probe.npz"  # real digits saved with the model, as model inputs, to check compiled copies on
COMPILE_TIMEOUT = 600  # seconds the compiling process may take (about 4 s here, mostly importing TensorFlow)
COMPILE_LOCK = "digits-compile.lock"  # in the temporary folder: one lock for every process on the machine
KEEP_COMPILED = 4  # compiled versions kept in memory (about 1.7 MB each for this network with int8 weights)
KEEP_ON_DISK = 8  # and in the user's cache folder
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Compiled:
    """What the compiling process hands back: the compiled model, its runtime name, and the answers it gave
    on the probe digits (which the serving process checks its own interpreter against)."""

    flatbuffer: bytes
    runtime: str
    probe: np.ndarray
    answers: np.ndarray


class _NoAnswer(Exception):
    """The compiling process gave no answer."""


_compiled: dict[tuple, Compiled | None] = {}  # (runtime, fingerprint) -> what compiling it gave
_compiling = threading.Lock()


def compiled_copy(path: Path, runtime: str, threads: int) -> tuple[CompiledModel, str] | None:
    """The version at `path` compiled as `runtime` asks ("litert-int8" or "litert"; see compile_signature),
    ready to serve on `threads` threads, and the runtime it got; None when no compiled copy gives the
    SavedModel's answers (TensorFlow must serve). ModelError when the SavedModel cannot be loaded."""
    found = precompile(path, runtime)
    if found is None:
        return None
    try:
        quantized = found.runtime == "litert-int8"
        model = CompiledModel(found.flatbuffer, SIGNATURE_INPUT, threads, quantized=quantized)
        difference = float(np.abs(_by_parts(model, found.probe) - found.answers).max())
    except Exception as exc:  # no LiteRT in this process's environment
        log.warning("LiteRT cannot run model %s here (%s: %s)", path.name, type(exc).__name__, exc)
        return None
    if not difference <= TOLERANCE:  # the same bytes give other answers in this process: do not trust them
        log.warning("the compiled copy of model %s answers differently in this process (by %.2g)",
                    path.name, difference)
        return None
    return model, found.runtime


def precompile(path: str | Path, runtime: str) -> Compiled | None:
    """Compile the version at `path` in a separate process, once for each content of its folder (see
    compiled_copy); None when no compiled copy serves. ModelError when the SavedModel cannot be loaded."""
    path = Path(path)
    key = (runtime, fingerprint(path))
    with _compiling:
        if key not in _compiled:
            try:
                _compiled[key] = _compile_or_reuse(path, runtime, key[1])
            except _NoAnswer:  # not the model's doing (a timeout, a killed process): tried again next time
                return None
            while len(_compiled) > KEEP_COMPILED:  # a long-lived service reloads many versions
                del _compiled[next(iter(_compiled))]
        return _compiled[key]


def compile_newest(model_dir: str | Path | None = None, runtime: str | None = None) -> None:
    """Compile the newest version in `model_dir` as `runtime` asks (MODEL_DIR and MODEL_RUNTIME by default)
    for the processes that load it next: the gunicorn master before it starts the workers, a Docker build
    (into the image's cache folder). ModelError when it cannot be loaded."""
    from app import config

    settings = config.from_env()
    model_dir, runtime = Path(model_dir or settings["MODEL_DIR"]), runtime or settings["MODEL_RUNTIME"]
    found = versions(model_dir)
    if found and runtime in RUNTIMES and runtime != "tensorflow":
        precompile(model_dir / str(found[-1]), runtime)


def _compile_or_reuse(path: Path, runtime: str, contents: str) -> Compiled | None:
    """What compiling the version at `path` gives: read from the disk cache when another process of this
    user compiled the same files with the same code and packages, else compiled now and saved there. One
    compiling process at a time on this machine: the workers of a service find a new version together,
    and each such process holds about 700 MB while it runs."""
    with _one_at_a_time():
        saved = _cache_file(runtime, contents)
        if saved is not None and saved.is_file():
            try:
                return _read_answer(saved.read_bytes(), path)
            except (_NoAnswer, OSError):
                log.warning("ignoring an unreadable compiled copy in %s", saved.parent)
        answer = _compile_elsewhere(path, runtime)
        found = _read_answer(answer, path)
        if saved is not None and found is not None:
            _save(saved, answer)
        return found


def fingerprint(folder: Path) -> str:
    """A digest of every file in a version's folder, names and contents: the same files compile the same."""
    digest = hashlib.sha256()
    try:
        for file in sorted(f for f in folder.rglob("*") if f.is_file()):
            digest.update(str(file.relative_to(folder)).encode() + b"\0")
            with open(file, "rb") as data:
                for chunk in iter(lambda: data.read(1 << 20), b""):
                    digest.update(chunk)
    except OSError:  # files vanishing while we look: a digest no other state of the folder gives
        digest.update(os.urandom(16))
    return digest.hexdigest()


def _compile_elsewhere(path: Path, runtime: str) -> bytes:
    """Run `python -m app.litert path runtime`: what it printed (see main); _NoAnswer when it did not end."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)  # this process's own copy of `app`
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        done = subprocess.run([sys.executable, "-m", "app.litert", str(path), runtime], env=env,
                              capture_output=True, timeout=COMPILE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not compile model %s in a separate process (%s)", path.name, type(exc).__name__)
        raise _NoAnswer from None
    for line in done.stderr.decode(errors="replace").splitlines():  # its log lines, in this process's log
        level, _, message = line.partition(" ")
        if level in ("INFO", "WARNING", "ERROR"):
            log.log(logging.getLevelName(level), "%s", message)
    if done.returncode == -signal.SIGKILL:  # in a container, nearly always its memory limit
        log.error("the process compiling model %s was killed (SIGKILL), most likely for want of memory: "
                  "it needs about 700 MB for a few seconds; TensorFlow, which serves instead, needs as much",
                  path.name)
        raise _NoAnswer
    if done.returncode != 0 or not done.stdout:
        log.warning("the process compiling model %s ended without an answer (exit code %s)", path.name,
                    done.returncode)
        raise _NoAnswer
    return done.stdout


def _read_answer(answer: bytes, path: Path) -> Compiled | None:
    """The compiling process's answer (see main) as a Compiled, or None: no compiled copy serves. ModelError
    when it could not load the SavedModel, _NoAnswer when the answer is unreadable."""
    try:
        with np.load(io.BytesIO(answer), allow_pickle=False) as out:
            if "error" in out:
                raise ModelError(str(out["error"]))
            if "flatbuffer" not in out:
                return None
            return Compiled(out["flatbuffer"].tobytes(), str(out["runtime"]), out["probe"], out["answers"])
    except (OSError, ValueError, KeyError, EOFError):
        log.warning("unreadable answer from the process compiling model %s", path.name)
        raise _NoAnswer from None


def _cache_file(runtime: str, contents: str) -> Path | None:
    """Where a compiled copy of these folder contents is kept between processes: in this user's cache
    folder (XDG_CACHE_HOME, else ~/.cache), named by the contents, the runtime, this module's code and the
    versions of TensorFlow and LiteRT. None when there is no such folder this user alone can write to."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "digits" / "compiled"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stat = folder.stat()
        if stat.st_uid != os.getuid() or stat.st_mode & 0o022:  # others could plant a model here
            return None
    except (OSError, RuntimeError):  # no home folder, a read-only one
        return None
    installed = []
    for names in (("tensorflow", "tensorflow-cpu"), ("ai-edge-litert",)):
        found = [version for version in map(_installed, names) if version]
        if not found:
            return None
        installed += found
    digest = hashlib.sha256("\0".join([runtime, contents, *installed]).encode())
    digest.update(Path(__file__).read_bytes())
    return folder / f"{digest.hexdigest()[:32]}.npz"


def _installed(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _save(file: Path, answer: bytes) -> None:
    """Write `answer` to `file` whole (a reader never sees half of it), and keep the newest KEEP_ON_DISK."""
    part = None
    try:
        with tempfile.NamedTemporaryFile(dir=file.parent, suffix=".part", delete=False) as part:
            part.write(answer)
        os.replace(part.name, file)
        for old in sorted(file.parent.glob("*.npz"), key=lambda f: f.stat().st_mtime)[:-KEEP_ON_DISK]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.info("compiled copy not kept on disk (%s)", exc)
        if part is not None:
            Path(part.name).unlink(missing_ok=True)


@contextlib.contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Hold COMPILE_LOCK, shared by every process on this machine, where it can be taken."""
    with contextlib.ExitStack() as stack:
        try:
            import fcntl  # POSIX only, as gunicorn is

            lock = stack.enter_context(open(Path(tempfile.gettempdir()) / COMPILE_LOCK, "a+b"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass  # another user's file, a file system without locks, no fcntl: compile anyway
        yield


def main(argv: list[str] | None = None) -> int:
    """`python -m app.litert FOLDER RUNTIME`: load the SavedModel in FOLDER, compile its signature as RUNTIME
    asks and check it, then write an .npz to stdout: the compiled bytes, the runtime got, the probe digits
    and the copy's answers on them; no compiled bytes when none gives the SavedModel's answers; `error` when
    the SavedModel cannot be loaded. Log lines go to stderr as "LEVEL message"."""
    folder, runtime = argv if argv is not None else sys.argv[1:]
    out = os.fdopen(os.dup(1), "wb")  # the answer; anything native code prints goes to stderr instead
    os.dup2(2, 1)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    result: dict[str, np.ndarray] = {}
    try:
        with native_output_held():
            configure_threads(1)  # TensorFlow starts about 0.4 s sooner with one thread per pool
            found = compile_version(Path(folder), runtime)
    except ModelError as exc:
        result["error"] = np.array(str(exc))
    else:
        if found is not None:
            result.update(flatbuffer=np.frombuffer(found.flatbuffer, np.uint8),
                          runtime=np.array(found.runtime), probe=found.probe, answers=found.answers)
    np.savez(out, **result)
    out.close()
    return 0


def compile_version(folder: Path, runtime: str) -> Compiled | None:
    """Load the SavedModel in `folder` with TensorFlow and compile its signature as `runtime` asks (see
    compile_signature): the compiling process's work. ModelError when it cannot be loaded."""
    reference, _loaded = signature_function(folder)
    compiled = compile_signature(folder, SIGNATURE_INPUT, reference, 1, quantize=runtime == "litert-int8")
    if compiled is None:
        return None
    copy, got = compiled
    probe = probe_digits(folder)
    return Compiled(copy.flatbuffer, got, probe, _by_parts(copy, probe))


class CompiledModel:
    """Interpreters over one compiled model, one per concurrent caller: an interpreter is not thread-safe.

    An idle interpreter is reused; a caller that finds none idle makes another, so a worker ends with as
    many as it has threads. Each keeps the input shape of its last call, so consecutive calls with the same
    number of digits skip re-planning the graph.
    """

    def __init__(self, flatbuffer: bytes, input_name: str, threads: int, *, quantized: bool = False) -> None:
        self.flatbuffer, self._input_name, self._threads = flatbuffer, input_name, threads
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

        interpreter = Interpreter(model_content=self.flatbuffer, num_threads=self._threads or None)
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
    compiled = _compile(path, input_name, reference, threads, probe_digits(path), quantize=False)
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


def probe_digits(path: Path) -> np.ndarray:
    """What compiled copies of the version at `path` are checked on: its probe digits, else three random
    images (enough to catch a copy that computes something else)."""
    probe = load_probe(path)
    return probe if probe is not None else np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)


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


if __name__ == "__main__":
    sys.exit(main())
