"""The `digits` command: train, predict, serve."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from pathlib import Path

from app.config import DEFAULT_MODEL_DIR, ROOT

METRICS_DIR_PREFIX = "digits-metrics-"  # app/gunicorn_conf.py removes these at exit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digits", description="Handwritten digit recognition.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train on MNIST and export a new SavedModel version")
    train.add_argument("--data", help="MNIST in Keras' npz layout (default: Keras' download)")
    train.add_argument("--out", default=os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR),
                       help="model folder; the version goes in a numbered subfolder (default: %(default)s)")
    train.add_argument("--epochs", type=int, default=11)
    train.add_argument("--copies", type=int, default=1, help="distorted variants per training digit")
    train.add_argument("--limit", type=int, default=0, help="train on the first N digits only (quick runs)")
    train.add_argument("--target-accuracy", type=float, help="stop once validation accuracy reaches this")
    train.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                       help="training arithmetic; auto: bfloat16 where the CPU has it natively "
                       "(the exported model computes in float32 either way)")
    train.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")

    predict = commands.add_parser("predict", help="read the digits in image files, offline")
    predict.add_argument("files", nargs="+", type=Path)
    predict.add_argument("--single", action="store_true", help="read each image as one digit")
    predict.add_argument("--model-dir", default=os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR))

    serve = commands.add_parser("serve", help="run the web service with gunicorn")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")),
                       help="worker processes, each with THREADS threads (default: %(default)s)")

    evaluate = commands.add_parser("evaluate", help="score the service on realistic images made from "
                                                    "MNIST test digits, through POST /predict")
    evaluate.add_argument("--data", default=str(ROOT / "tests" / "data" / "mnist_sample.npz"),
                          help="MNIST test digits in Keras' npz layout (default: %(default)s)")
    evaluate.add_argument("--per-kind", type=int, default=200, help="images per kind (default: %(default)s)")
    evaluate.add_argument("--kinds", help="comma-separated kinds (default: all)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--url", help="post to a running service (e.g. http://127.0.0.1:8000) "
                                        "instead of the app in this process")
    evaluate.add_argument("--model-dir", default=os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR))
    evaluate.add_argument("--json", dest="json_path", help="write the results as JSON to this file")
    evaluate.add_argument("--save-failures", help="write every misread image into this folder")
    evaluate.add_argument("--min-accuracy", type=float, help="exit 1 if any kind scores below this (0-1)")

    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return {"train": _train, "predict": _predict, "serve": _serve, "evaluate": _evaluate}[args.command](args)


def _train(args: argparse.Namespace) -> int:
    from app.train import train

    path = train(args.data, args.out, epochs=args.epochs, copies=args.copies, limit=args.limit,
                 target_accuracy=args.target_accuracy, precision=args.precision,
                 verbose=2 if args.quiet else 1)
    print(path)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from app import config, model
    from app.errors import InputError
    from app.reading import read_digits

    settings = config.from_env()
    try:
        loaded = model.load(args.model_dir, runtime=settings["MODEL_RUNTIME"], threads=settings["TF_THREADS"])
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
        confidence = ", ".join(percent(p["confidence"]) for p in answer["predictions"])
        print(f"{path}: {answer['digits']} ({confidence})")
    return 1 if failed else 0


def percent(confidence: float) -> str:
    """A confidence as the web page shows it: rounded down to 0.1%, so never a false 100%."""
    return f"{math.floor(confidence * 1000) / 10:.1f}%"


def _serve(args: argparse.Namespace) -> int:
    from app import model

    model_dir = os.environ.get("MODEL_DIR") or str(DEFAULT_MODEL_DIR)
    if not model.versions(model_dir):
        print(f"error: no model found in {Path(model_dir).resolve()} (run `digits train`)", file=sys.stderr)
        return 1
    os.environ.update(HOST=args.host, PORT=str(args.port), WORKERS=str(args.workers))
    os.environ.setdefault("TF_THREADS", str(max(1, (os.cpu_count() or 1) // args.workers)))
    # The workers' metrics meet in files here; a fresh folder per start, as stale files would add up.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=METRICS_DIR_PREFIX)
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "python:app.gunicorn_conf"]
    os.execv(sys.executable, gunicorn)
    return 0  # not reached


def _evaluate(args: argparse.Namespace) -> int:
    from app import evaluate, model

    try:
        kinds = evaluate.parse_kinds(args.kinds or ",".join(evaluate.KINDS))
        x, y = evaluate.load_digits(args.data)
        post = evaluate.over_http(args.url) if args.url else evaluate.in_process(args.model_dir)
        results = evaluate.run(post, x, y, kinds, args.per_kind, args.seed, args.save_failures)
    except (OSError, ValueError, model.ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = evaluate.summarize(results)
    print(evaluate.report(rows, results))
    if args.json_path:
        evaluate.write_json(args.json_path, rows, results, args.seed)
    if args.min_accuracy is not None and any(row["accuracy"] < args.min_accuracy for row in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
