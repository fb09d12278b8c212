"""The `digits` command: train, predict, serve."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from app.config import DEFAULT_MODEL_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digits", description="Handwritten digit recognition.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train on MNIST and export a new SavedModel version")
    train.add_argument("--data", help="MNIST in Keras' npz layout (default: Keras' download)")
    train.add_argument("--out", default=os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR),
                       help="model folder; the new version goes in a numbered subfolder (default: %(default)s)")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--copies", type=int, default=2, help="distorted variants per training digit")
    train.add_argument("--limit", type=int, default=0, help="train on the first N digits only (quick runs)")
    train.add_argument("--target-accuracy", type=float, help="stop once validation accuracy reaches this")
    train.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")

    predict = commands.add_parser("predict", help="read the digits in image files, offline")
    predict.add_argument("files", nargs="+", type=Path)
    predict.add_argument("--single", action="store_true", help="read each image as one digit")
    predict.add_argument("--model-dir", default=os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR))

    serve = commands.add_parser("serve", help="run the web service with gunicorn")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))

    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return {"train": _train, "predict": _predict, "serve": _serve}[args.command](args)


def _train(args: argparse.Namespace) -> int:
    from app.train import train

    path = train(args.data, args.out, epochs=args.epochs, copies=args.copies, limit=args.limit,
                 target_accuracy=args.target_accuracy, verbose=2 if args.quiet else 1)
    print(path)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from app import config, model
    from app.errors import InputError
    from app.reading import read_digits

    settings = config.from_env()
    try:
        loaded = model.load(args.model_dir)
    except model.ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    failed = 0
    for path in args.files:
        try:
            answer = read_digits(path.read_bytes(), loaded, settings, single=args.single)
        except (OSError, InputError) as exc:
            print(f"{path}: error: {getattr(exc, 'message', None) or exc.strerror or exc}")
            failed += 1
            continue
        confidence = ", ".join(f"{p['confidence']:.1%}" for p in answer["predictions"])
        print(f"{path}: {answer['digits']} ({confidence})")
    return 1 if failed else 0


def _serve(args: argparse.Namespace) -> int:
    from app import model

    model_dir = os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR)
    if not model.versions(model_dir):
        print(f"error: no model found in {Path(model_dir).resolve()} (run `digits train`)", file=sys.stderr)
        return 1
    os.environ.update(HOST=args.host, PORT=str(args.port), WORKERS=str(args.workers))
    os.environ.setdefault("TF_THREADS", str(max(1, (os.cpu_count() or 1) // args.workers)))
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "python:app.gunicorn_conf"]
    os.execv(sys.executable, gunicorn)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
