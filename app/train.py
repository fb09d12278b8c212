"""Train the digit CNN on MNIST and export it as a numbered SavedModel version.

Every training digit goes through app.preprocess, the same path uploads take.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import resource
import time
from pathlib import Path

import numpy as np

from app.augment import build_pool, other_hands, typed_digits
from app.model import SIGNATURE_INPUT, next_version
from app.preprocess import INPUT_SIZE

SEED = 20261123
BATCH_SIZE = 128
VALIDATION = 5000  # training digits held out for validation and --target-accuracy
PROBE_DIGITS = 256  # MNIST test digits saved with the model, to check compiled copies on (app.litert)
log = logging.getLogger(__name__)


def load_mnist(path: str | None):
    """MNIST from a Keras-layout npz, or Keras' own download when no path is given."""
    if path:
        if not Path(path).is_file():
            raise SystemExit(f"error: no MNIST file at {path}")
        with np.load(path) as data:
            arrays = {k: data[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    else:
        import keras

        try:
            (xt, yt), (xs, ys) = keras.datasets.mnist.load_data()
        except Exception as exc:
            raise SystemExit("error: could not download MNIST with Keras "
                             f"({type(exc).__name__}); pass --data path/to/mnist.npz") from None
        arrays = {"x_train": xt, "y_train": yt, "x_test": xs, "y_test": ys}
        digest = hashlib.sha256(b"".join(a.tobytes() for a in arrays.values())).hexdigest()
    return arrays, digest


def build_model(precision: str = "float32"):
    """The CNN; `precision` "bfloat16" computes in bfloat16 (weights and softmax stay float32)."""
    import keras
    from keras import layers

    policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"

    def conv(x, filters, kernel=3):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, dtype=policy)(x)
        return layers.ReLU(dtype=policy)(layers.BatchNormalization(dtype=policy)(x))

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name=SIGNATURE_INPUT)
    x = layers.MaxPooling2D(dtype=policy)(conv(inputs, 32, 5))
    x = layers.Dropout(0.2, dtype=policy)(layers.MaxPooling2D(dtype=policy)(conv(conv(x, 64), 64)))
    x = layers.Flatten(dtype=policy)(conv(x, 128))
    x = layers.Dropout(0.4, dtype=policy)(layers.Dense(128, activation="relu", dtype=policy)(x))
    outputs = layers.Dense(10, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def training_precision(requested: str = "auto") -> str:
    """bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX: ~30% less time per step), else
    float32. The exported model always computes in float32."""
    if requested != "auto":
        return requested
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: no way to tell cheaply, and emulated bfloat16 is slow
        return "float32"
    return "bfloat16" if {"avx512_bf16", "amx_bf16"} & set(flags) else "float32"


def train(data: str | None, out_dir: str, *, epochs: int = 11, copies: int = 1, limit: int = 0,
          target_accuracy: float | None = None, precision: str = "auto", verbose: int = 1) -> Path:
    """Train, evaluate on the 10,000 MNIST test digits, export, and return the version folder."""
    started = time.monotonic()
    arrays, digest = load_mnist(data)
    x, y = arrays["x_train"], arrays["y_train"].astype(np.int64)
    if limit:
        x, y = x[:limit], y[:limit]
    typed_x, typed_y = typed_digits(len(x) // 10, SEED)
    order = np.random.default_rng(SEED).permutation(len(x))
    val_idx, train_idx = order[:min(VALIDATION, len(x) // 10)], order[min(VALIDATION, len(x) // 10):]
    hands_x, hands_y = other_hands(x[train_idx], y[train_idx], SEED)
    train_images = list(x[train_idx]) + list(typed_x) + list(hands_x)
    pool = build_pool(train_images, copies=copies, seed=SEED)
    pool_labels = np.concatenate([y[train_idx], typed_y.astype(np.int64), hands_y.astype(np.int64)])
    val = build_pool(list(x[val_idx]), copies=0, seed=SEED)[0]
    test = build_pool(list(arrays["x_test"]), copies=0, seed=SEED)[0]
    log.info("prepared %d training digits x %d variants in %.0f s",
             len(pool_labels), copies + 1, time.monotonic() - started)

    import keras

    keras.utils.set_random_seed(SEED)
    precision = training_precision(precision)
    model = build_model(precision)
    steps = epochs * -(-len(pool_labels) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(
        1e-3, steps, warmup_target=3e-3, warmup_steps=steps // 10)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [stop_at_accuracy(target_accuracy)] if target_accuracy else []
    # the dataset is shuffled already (see _dataset): fit's own shuffle does not apply to it
    history = model.fit(_dataset(pool, pool_labels), epochs=epochs, verbose=verbose, shuffle=False,
                        validation_data=(val[..., None], y[val_idx]), callbacks=callbacks)
    if precision != "float32":  # serve (and measure) the float32 network that holds the trained weights
        trained, model = model, build_model()
        model.set_weights(trained.get_weights())
    probs = model.predict(test[..., None], batch_size=1000, verbose=0)
    accuracy = float((probs.argmax(axis=1) == arrays["y_test"]).mean())
    seconds = time.monotonic() - started
    cpu = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    log.info("MNIST test accuracy %.4f after %d epochs in %.0f s", accuracy, len(history.epoch), seconds)
    return export(model, out_dir, {
        "test_accuracy": accuracy, "epochs": len(history.epoch),
        "training_seconds": round(seconds), "training_cpu_seconds": round(cpu),
        "data_sha256": digest, "training_digits": int(len(pool_labels)), "seed": SEED,
        "training_precision": precision,
        "val_accuracy": float(history.history["val_accuracy"][-1]),
    }, probe=test[:PROBE_DIGITS])


def _dataset(pool: np.ndarray, labels: np.ndarray):
    """Each epoch every digit appears once, as a randomly chosen variant, shifted up to 2 px."""
    import tensorflow as tf

    variants, count = pool.shape[0], pool.shape[1]
    images, targets = tf.constant(pool), tf.constant(labels)

    def pick(index):
        variant = tf.random.uniform((), 0, variants, dtype=tf.int64, seed=SEED)
        image = tf.pad(images[variant, index][..., None], [[2, 2], [2, 2], [0, 0]])
        image = tf.image.random_crop(image, (INPUT_SIZE, INPUT_SIZE, 1), seed=SEED)
        return image, targets[index]

    return (tf.data.Dataset.range(count).shuffle(count, seed=SEED)
            .map(pick, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH_SIZE).prefetch(2))


def stop_at_accuracy(target: float):
    """A callback that stops training once validation accuracy reaches `target`."""
    import keras

    class StopAtAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            reached = (logs or {}).get("val_accuracy", 0.0)
            if reached >= target:
                log.info("validation accuracy %.4f reached the target %.4f", reached, target)
                self.model.stop_training = True

    return StopAtAccuracy()


def export(model, out_dir: str, facts: dict, probe: np.ndarray | None = None) -> Path:
    """Write models/<version>/: the SavedModel (serving_default), metadata.json and the probe digits."""
    import tensorflow as tf

    from app.litert import save_probe

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = next_version(root)
    target = root / str(version)
    staging = root / f".{version}.partial"  # renamed into place whole, so a watcher never sees half a model
    model.export(str(staging), format="tf_saved_model", verbose=False)
    metadata = {"version": str(version), "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "input_shape": [INPUT_SIZE, INPUT_SIZE, 1], "classes": list(range(10)),
                "tensorflow": tf.__version__, **facts}
    (staging / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    if probe is not None:
        save_probe(staging, probe)
    staging.rename(target)
    log.info("exported model version %s to %s", version, target)
    return target
