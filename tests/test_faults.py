"""gunicorn under load: a killed worker is replaced while answers keep coming; SIGTERM drains requests;
a load generator's connections are shared by the workers; connections that send nothing hold no one up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from .conftest import DATA, ROOT, wrk_path
from .live_server import serve

pytestmark = pytest.mark.slow


def form(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(url: str, data: bytes) -> int | str:
    """The status of one reading, or what went wrong on the wire."""
    body, content_type = form(data)
    request = urllib.request.Request(url + "/predict", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return type(exc).__name__


def served_by(server, pid: int) -> int:
    """How many readings the worker `pid` answered with 200, from the JSON request log."""
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    return sum(1 for line in lines if line.get("logger") == "app.requests" and line["pid"] == pid
               and line["path"] == "/predict" and line["status"] == 200)


def serving(server) -> set[int]:
    """The workers that have loaded the model, from the log."""
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    return {line["pid"] for line in lines
            if line.get("logger") == "app.model" and line["message"].startswith("serving model version")}


def test_a_worker_killed_under_load_is_replaced_and_answers_keep_coming():
    image = (DATA / "digit_7.png").read_bytes()
    with serve(workers=2) as server:
        first = server.workers()
        assert len(first) == 2
        results: list[int | str] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set() and len(results) < 20_000:
                results.append(post(server.url, image))
                time.sleep(0.02)  # steady traffic, leaving CPU for the replacement worker to boot

        clients = [threading.Thread(target=load) for _ in range(2)]
        for client in clients:
            client.start()
        try:
            deadline = time.monotonic() + 60
            while len(results) < 20 and time.monotonic() < deadline:
                time.sleep(0.1)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            killed_at = len(results)
            deadline = time.monotonic() + 240
            replacement: set[int] = set()
            while time.monotonic() < deadline:
                replacement = server.workers() - first
                if replacement and served_by(server, next(iter(replacement))) >= 3:
                    break
                time.sleep(0.5)
        finally:
            stop.set()
            for client in clients:
                client.join(90)
        after = results[killed_at:]
        assert len(replacement) == 1 and victim not in server.workers()
        assert served_by(server, replacement.pop()) >= 3, "the new worker never answered"
        assert after.count(200) >= 20
        # Only a request inside the killed worker can be lost; the other worker answered the rest.
        assert len(after) - after.count(200) <= 2, after
        assert server.get("/readyz")[0] == 200
        # The master compiled the model once, in a process of its own: no worker, the new one included, holds
        # TensorFlow's few hundred MB (app/litert.py).
        for pid in {server.process.pid, *server.workers()}:
            assert "tensorflow" not in Path(f"/proc/{pid}/maps").read_text()


def test_connections_a_load_generator_keeps_alive_are_shared_by_the_workers():
    """wrk opens its connections all at once and keeps them alive, as a proxy's connection pool does. gthread
    let the first worker to wake take them all and serve them on one core while the other worker idled
    (app/workers.py); each burst of connections was a new chance of it."""
    wrk = wrk_path()
    with serve(workers=2) as server:
        workers = server.workers()
        deadline = time.monotonic() + 120
        while serving(server) < workers and time.monotonic() < deadline:  # /readyz needs only one of them
            time.sleep(0.1)
        before = dict.fromkeys(workers, 0)
        for _ in range(3):
            done = subprocess.run(
                [wrk, "-t1", "-c8", "-d2s", "-s", str(ROOT / "bench" / "post.lua"), server.url + "/predict",
                 "--", str(DATA / "digit_7.png")], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            time.sleep(0.5)  # the last request log lines
            after = {pid: served_by(server, pid) for pid in workers}
            burst = {pid: after[pid] - before[pid] for pid in workers}
            assert min(burst.values()) >= 0.25 * sum(burst.values()), f"one worker did the work: {burst}"
            before = after


def test_connections_that_send_nothing_hold_up_no_one():
    """A browser's preconnect, or a client that connects and waits, sends nothing. gthread gave each such
    connection a thread for 5 s: four of them (two workers of two threads) held every request up."""
    image = (DATA / "digit_7.png").read_bytes()
    with serve(workers=2) as server:
        silent = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(8)]
        try:
            time.sleep(0.5)  # taken by the workers
            body, content_type = form(image)
            request = urllib.request.Request(server.url + "/predict", data=body,
                                             headers={"Content-Type": content_type})
            with urllib.request.urlopen(request, timeout=3) as response:  # gthread: 9.8 s
                assert json.loads(response.read())["digit"] == 7
        finally:
            for sock in silent:
                sock.close()


def start_upload(port: int, body: bytes, content_type: str) -> socket.socket:
    """Send a request's head and wait until a worker has taken it (its "100 Continue")."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall((f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                  f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
    interim = b""
    while b"\r\n\r\n" not in interim:
        chunk = sock.recv(1024)
        if not chunk:
            break
        interim += chunk
    assert interim.startswith(b"HTTP/1.1 100"), interim
    return sock


def finish_upload(sock: socket.socket, body: bytes) -> tuple[int, dict]:
    with sock:
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def test_sigterm_lets_the_requests_in_flight_finish_before_exit():
    body, content_type = form((DATA / "digit_7.png").read_bytes())
    with serve(workers=2) as server:
        in_flight = [start_upload(server.port, body, content_type) for _ in range(2)]  # one per worker
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while "Handling signal: term" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "Handling signal: term" in server.output()
        answers = [finish_upload(sock, body) for sock in in_flight]  # the rest of each upload, after SIGTERM
        assert [status for status, _ in answers] == [200, 200]
        assert all(answer["digits"] == "7" for _, answer in answers)
        assert server.process.wait(60) == 0
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
