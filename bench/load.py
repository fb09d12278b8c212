"""Load benchmark: /predict under `digits serve` against a bare endpoint under the same gunicorn setup.

    python -m bench.load                          # 10 s per cell, memory after 10,000 and 20,000 requests
    python -m bench.load --doc docs/PERFORMANCE.md  # and keep the table in the docs
    python -m bench.load --duration 1 --memory-requests 200   # a smoke run of a few seconds

Needs wrk. WORKERS, THREADS, MODEL_DIR... are read from the environment by both servers alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import report, servers

HERE = Path(__file__).resolve().parent
IMAGES = {  # name -> (file, digits in it)
    "28x28 PNG": (HERE / "images" / "digit_28.png", 1),
    "600x600 JPEG": (HERE / "images" / "photo_600.jpg", 1),
    "5-digit row": (HERE / "images" / "row_5.png", 5),
}
LUA = HERE / "post.lua"
CELL_TRIES = 3  # a cell where a server used under BALANCED of the cores it could use is measured again
BALANCED = 0.8


def measure(server: servers.Server, image: Path, connections: int, seconds: float) -> dict:
    """A wrk run, plus the server's CPU time per answered request (steady even on a busy machine)."""
    before = servers.cpu_seconds(server)
    result = wrk(server.url, image, connections, seconds)
    used = servers.cpu_seconds(server) - before
    result["cpu_ms"] = round(1000 * used / result["requests"], 2) if result["requests"] else 0.0
    result["cores"] = round(used / result["seconds"], 2) if result["seconds"] else 0.0  # of the machine's
    return result


def wrk(url: str, image: Path, connections: int, seconds: float) -> dict:
    """One wrk run: requests, req/s, latency percentiles and errors (non-2xx answers and socket errors)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
               "-s", str(LUA), url, "--", str(image)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    result = json.loads(line[len("BENCH "):])
    result["rps"] = round(result["requests"] / result["seconds"], 1) if result["seconds"] else 0.0
    return result


def run(duration: float, warmup: float, connections: list[int], memory_requests: int, log_dir: Path,
        images: dict[str, tuple[Path, int]] = IMAGES) -> dict:
    """Start both servers, measure every cell, then memory after N and 2N product requests."""
    started = time.monotonic()
    product = servers.start_product(log_dir)
    bare = None
    try:
        startup = servers.wait_ready(product, IMAGES["28x28 PNG"][0], started)
        bare = servers.start_bare(log_dir)
        servers.wait_ready(bare, IMAGES["28x28 PNG"][0], time.monotonic())
        found = {name: len(servers.post(product.url, path)[1].get("predictions", []))
                 for name, (path, _) in images.items()}
        served = 0
        for path, _ in images.values():  # warm-up: caches, lazy imports, TensorFlow's first batch sizes
            wrk(bare.url, path, max(connections), warmup)
            served += wrk(product.url, path, max(connections), warmup)["requests"]
        rows = []
        from app import gunicorn_conf  # WORKERS from this environment, as both servers read it

        usable = min(os.cpu_count() or 1, gunicorn_conf.workers)  # cores the servers can keep busy
        for name, (path, _) in images.items():
            for count in connections:
                tries = 0
                while True:
                    tries += 1
                    # Alternate the two servers cell by cell, so a noisy neighbour hits both alike.
                    ceiling = measure(bare, path, count, duration)
                    measured = measure(product, path, count, duration)
                    served += measured["requests"]
                    # With keep-alive, wrk's few connections could all land on one worker, which then runs on
                    # one core: that measures where the connections fell, not the server. app/workers.py
                    # shares them out now; a cell where they still fell unevenly is measured again.
                    balanced = min(ceiling["cores"], measured["cores"]) >= BALANCED * usable
                    if count < usable or balanced or tries == CELL_TRIES:
                        break
                rows += [report.row(name, count, "bare", ceiling, ceiling, tries),
                         report.row(name, count, "product", measured, ceiling, tries)]
        settings = report.server_settings(product.log, bare.log)
        servers.stop(bare)
        memory, turn, target = [], 0, memory_requests
        for _ in range(2):  # after at least N requests, then after N more (the cells may serve over N)
            while served < target:  # every image type in turn, a few seconds at a time
                path = list(images.values())[turn % len(images)][0]
                served += wrk(product.url, path, max(connections), min(3.0, duration))["requests"]
                turn += 1
            memory.append({"after_requests": served, **servers.memory(product)})
            target = served + memory_requests
    finally:
        servers.stop(product)
        if bare is not None:
            servers.stop(bare)
    return report.build(rows, memory, startup, found, {name: n for name, (_, n) in images.items()},
                        settings, duration)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per image and server")
    parser.add_argument("--connections", default="1,8", help="concurrent connections per cell")
    parser.add_argument("--images", default=",".join(p.stem for p, _ in IMAGES.values()),
                        help="which images, by file name (default: %(default)s)")
    parser.add_argument("--memory-requests", type=int, default=10_000,
                        help="measure memory after this many and twice this many requests")
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="JSON report")
    parser.add_argument("--doc", type=Path, help="rewrite the results section of this markdown file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    connections = [int(c) for c in args.connections.split(",")]
    images = {name: image for name, image in IMAGES.items() if image[0].stem in args.images.split(",")}
    if not images:
        parser.error(f"no such image: {args.images}")
    with tempfile.TemporaryDirectory(prefix="digits-bench-") as logs:
        result = run(args.duration, args.warmup, connections, args.memory_requests, Path(logs), images)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.markdown(result))
    print(f"\nJSON report: {args.out}")
    if args.doc:
        report.update_doc(args.doc, report.markdown(result))
        print(f"updated {args.doc}")
    return 1 if args.check and not all(t["met"] for t in result["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
