"""`digits serve` on a free port, for the tests that need a real gunicorn server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parent.parent
BOOT_SECONDS = 180  # the master compiling the model (TensorFlow, about 4 s), on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def workers(self) -> set[int]:
        """Pids of the gunicorn workers: the master's children."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    found.add(int(stat.parent.name))
        return found

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, seconds: float = BOOT_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"digits serve exited with {code}:\n{self.output()[-3000:]}")
            with contextlib.suppress(OSError):
                status, body = self.get("/readyz", timeout=5)
                if status == 200 and json.loads(body)["status"] == "ready":
                    return
            time.sleep(0.5)
        raise RuntimeError(f"digits serve not ready after {seconds:.0f} s:\n{self.output()[-3000:]}")


@contextlib.contextmanager
def serve(workers: int = 2, **env: str) -> Iterator[Server]:
    """Run `digits serve` until the block ends, then stop it and every worker it started."""
    handle, name = tempfile.mkstemp(prefix="digits-serve-", suffix=".log")
    os.close(handle)
    log = Path(name)
    settings = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MODEL_POLL_SECONDS": "0", "TF_THREADS": "1",
                **env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port := free_port()),
             "--workers", str(workers)],
            cwd=ROOT, env=settings, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(port, process, log)
    try:
        server.wait_ready()
        yield server
    finally:
        stop(process)
        log.unlink(missing_ok=True)


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """SIGTERM the server, then SIGKILL whatever is left of its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(seconds)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only the processes this test started
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
