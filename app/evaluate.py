"""`digits evaluate`: the evaluation kit's images sent through POST /predict, scored per kind."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.evalkit import KINDS, generate

if TYPE_CHECKING:
    from flask.testing import FlaskClient

# Accuracy each kind should reach with a good model; rows are scored on the whole string.
TARGETS = {"mnist": 0.993, "paper": 0.985, "canvas": 0.99, "row": 0.95, "typed": 0.95}
Post = Callable[[bytes, str], tuple[int, dict]]  # (file bytes, file name) -> (HTTP status, JSON answer)


@dataclass
class Result:
    """What the service answered for one kit image."""

    kind: str
    index: int
    expected: str
    got: str | None  # the answer's `digits`, None when the status was not 200
    status: int
    tags: dict[str, str]

    @property
    def correct(self) -> bool:
        return self.status == 200 and self.got == self.expected


def load_digits(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits and labels from an npz in Keras' layout (keys x_test, y_test)."""
    with np.load(path) as data:
        if "x_test" not in data or "y_test" not in data:
            raise ValueError(f"{path} has no x_test/y_test arrays (Keras' mnist.npz layout)")
        x, y = data["x_test"], data["y_test"]
    if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{path}: expected x_test of shape (n, 28, 28) and n labels, got {x.shape}")
    return x.astype(np.uint8), y


def in_process(model_dir: str | None = None) -> Post:
    """Post to the app built by the factory, in this process (no server needed)."""
    from app import create_app

    # One model version for the whole run; no request log, as thousands of lines would bury the table.
    settings = {"MODEL_POLL_SECONDS": 0, "REQUEST_LOG": False}
    if model_dir:
        settings["MODEL_DIR"] = model_dir
    client = create_app(settings).test_client()
    return through_client(client)


def through_client(client: FlaskClient) -> Post:
    """Post through a Flask test client."""

    def post(data: bytes, filename: str) -> tuple[int, dict]:
        response = client.post("/predict", data={"file": (io.BytesIO(data), filename)},
                               content_type="multipart/form-data")
        return response.status_code, response.get_json(silent=True) or {}

    return post


def over_http(url: str, timeout: float = 30.0) -> Post:
    """Post to a running service at `url` (e.g. http://127.0.0.1:8000) with urllib."""
    endpoint = url.rstrip("/") + "/predict"

    def post(data: bytes, filename: str) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        request = urllib.request.Request(endpoint, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:  # a 4xx/5xx answer is a result, not a crash
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {}

    return post


def run(post: Post, x: np.ndarray, y: np.ndarray, kinds: Iterable[str], per_kind: int, seed: int = 0,
        save_failures: str | Path | None = None) -> list[Result]:
    """Send `per_kind` images of each kind and record every answer; optionally keep the failing files."""
    results = []
    for kind in kinds:
        for index, sample in enumerate(generate(kind, x, y, per_kind, seed)):
            name = f"{kind}_{index:04d}.{sample.extension}"
            status, answer = post(sample.data, name)
            got = answer.get("digits") if status == 200 else None
            result = Result(kind, index, sample.expected, got, status, sample.tags)
            results.append(result)
            if save_failures and not result.correct:
                folder = Path(save_failures) / kind
                folder.mkdir(parents=True, exist_ok=True)
                answered = got if status == 200 else str(status)
                stem = f"{index:04d}_expected-{sample.expected}_got-{answered}"
                (folder / f"{stem}.{sample.extension}").write_bytes(sample.data)
    return results


def summarize(results: list[Result]) -> list[dict]:
    """One row per kind: images, correct, accuracy, target."""
    rows = []
    for kind in dict.fromkeys(r.kind for r in results):
        mine = [r for r in results if r.kind == kind]
        correct = sum(r.correct for r in mine)
        rows.append({"kind": kind, "images": len(mine), "correct": correct,
                     "accuracy": correct / len(mine), "target": TARGETS.get(kind)})
    return rows


def breakdown(results: list[Result]) -> dict[str, dict[str, dict[str, list[int]]]]:
    """kind -> tag -> value -> [wrong, images]: which sub-kinds the failures come from."""
    table: dict = {}
    for r in results:
        tags = r.tags if r.status == 200 else {**r.tags, "status": str(r.status)}  # e.g. 422: no digit found
        for tag, value in tags.items():
            counts = table.setdefault(r.kind, {}).setdefault(tag, {}).setdefault(value, [0, 0])
            counts[0] += not r.correct
            counts[1] += 1
    return table


def report(rows: list[dict], results: list[Result]) -> str:
    """The table, then for each kind the tag values its failures share."""
    lines = [f"{'kind':<8}{'images':>8}{'correct':>9}{'accuracy':>10}{'target':>8}"]
    for row in rows:
        target = f"{row['target']:.1%}" if row["target"] is not None else "-"
        mark = "" if row["target"] is None or row["accuracy"] >= row["target"] else "  below target"
        lines.append(f"{row['kind']:<8}{row['images']:>8}{row['correct']:>9}{row['accuracy']:>10.1%}"
                     f"{target:>8}{mark}")
    for kind, tags in breakdown(results).items():
        worst = [f"{tag}={value} {wrong}/{total}" for tag, values in tags.items()
                 for value, (wrong, total) in sorted(values.items()) if wrong]
        if worst:
            lines.append(f"  {kind} failures by sub-kind: " + ", ".join(worst))
    return "\n".join(lines)


def write_json(path: str | Path, rows: list[dict], results: list[Result], seed: int) -> None:
    """The summary, the breakdown and every failure, for tracking accuracy across model versions."""
    payload = {"seed": seed, "kinds": rows, "breakdown": breakdown(results),
               "failures": [asdict(r) for r in results if not r.correct]}
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")


def parse_kinds(text: str) -> list[str]:
    """'paper,row' -> ['paper', 'row'], refusing unknown names."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(KINDS)}")
    return kinds
