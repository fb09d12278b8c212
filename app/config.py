"""Settings, read from the environment with defaults."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = ROOT / "models"


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"error: {name} must be a whole number, got {value!r}") from None


def from_env() -> dict:
    """The app's configuration; every key can be set by an environment variable of the same name."""
    return {
        "MODEL_DIR": os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR),
        # Upload limit in bytes: Flask answers 413 beyond it, also for chunked bodies.
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_BYTES", 10_000_000),
        # Decoded size limit: guards against decompression bombs.
        "MAX_IMAGE_PIXELS": _int("MAX_IMAGE_PIXELS", 40_000_000),
        # Ink threshold on the 0-255 scale after inversion (the design card's 75).
        "THRESHOLD": _int("THRESHOLD", 75),
        # At most this many digits are read from one image.
        "MAX_DIGITS": _int("MAX_DIGITS", 32),
        "MAX_FORM_PARTS": _int("MAX_FORM_PARTS", 8),
        # Seconds between checks of MODEL_DIR for a new version; 0 turns hot reload off.
        "MODEL_POLL_SECONDS": _int("MODEL_POLL_SECONDS", 10),
        # One JSON line per request on stdout (off for in-process batch tools such as `digits evaluate`).
        "REQUEST_LOG": os.environ.get("REQUEST_LOG", "1") != "0",
        # TensorFlow threads per worker; 0 lets the serve command decide from cores and workers.
        "TF_THREADS": _int("TF_THREADS", 0),
        # What runs the SavedModel's signature: "litert-int8" (compiled at load with int8 weights),
        # "litert" (compiled in float) or "tensorflow". A compiled copy serves only if it gives the
        # signature's answers on the probe digits saved with the model; else the next one down does.
        "MODEL_RUNTIME": os.environ.get("MODEL_RUNTIME") or "litert-int8",
    }
