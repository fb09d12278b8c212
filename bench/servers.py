"""Start, probe, measure and stop the two servers the benchmark compares."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    """A running gunicorn: the master's pid, its URL and the file its logs go to."""

    name: str
    process: subprocess.Popen
    url: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(port: int) -> dict[str, str]:
    """The caller's environment (WORKERS, THREADS, MODEL_DIR... pass through) on a local port."""
    return dict(os.environ, HOST="127.0.0.1", PORT=str(port), TF_CPP_MIN_LOG_LEVEL="2")


def start_product(log_dir: Path) -> Server:
    """The product exactly as users start it: `digits serve --port P`, from a cold start: with a cache
    folder of its own, empty, so the model is compiled as on a first start (app/litert.py)."""
    port = free_port()
    digits = shutil.which("digits")
    command = [digits] if digits else [sys.executable, "-m", "app.cli"]
    return _start("product", [*command, "serve", "--port", str(port)], port, log_dir,
                  XDG_CACHE_HOME=str(log_dir / "cache"))


def start_bare(log_dir: Path) -> Server:
    """The ceiling: the product's gunicorn config and worker count, serving bench/bare_app.py."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--config", "python:app.gunicorn_conf",
               "bench.bare_app:create()"]
    return _start("bare", command, port, log_dir)


def _start(name: str, command: list[str], port: int, log_dir: Path, **env: str) -> Server:
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env={**server_env(port), **env}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Server(name, process, f"http://127.0.0.1:{port}/predict", log)


def multipart(path: Path) -> tuple[bytes, str]:
    """The kind of body bench/post.lua sends, with a new random boundary as curl's, and its content type."""
    boundary = "-" * 24 + secrets.token_hex(8)
    mime = "image/jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "image/png"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            f"Content-Type: {mime}\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(url: str, image: Path, timeout: float = 10.0) -> tuple[int, dict]:
    """POST an image; the status and the decoded JSON answer."""
    body, content_type = multipart(image)
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_ready(server: Server, image: Path, started: float, limit: float = 120.0) -> float:
    """Seconds from `started` to the first 200 from /predict; raises if the server dies or never answers."""
    while time.monotonic() - started < limit:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} server exited ({server.process.returncode}); see {server.log}")
        try:
            if post(server.url, image, timeout=5.0)[0] == 200:
                return time.monotonic() - started
        except (OSError, ValueError):
            pass  # not listening yet
        time.sleep(0.05)
    raise RuntimeError(f"{server.name} server gave no answer within {limit:.0f} s; see {server.log}")


def _tree(pid: int) -> list[int]:
    """`pid` and all its descendants (gunicorn's master and workers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def memory(server: Server) -> dict:
    """Resident memory of the whole service in MB: RSS summed (counts shared pages per process) and PSS."""
    rss = pss = 0
    pids = _tree(server.process.pid)
    for pid in pids:
        try:
            rss += _kb(Path(f"/proc/{pid}/status"), "VmRSS:")
            pss += _kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss:")
        except OSError:
            continue
    return {"processes": len(pids), "rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1)}


def cpu_seconds(server: Server) -> float:
    """CPU time (user + system) used so far by the master and its live workers."""
    ticks = 0
    for pid in _tree(server.process.pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def _kb(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def stop(server: Server) -> None:
    """SIGTERM the master (gunicorn stops its workers gracefully); SIGKILL the group if it hangs."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
