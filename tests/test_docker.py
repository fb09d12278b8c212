"""The Docker image: build it, run it, read a digit through it from outside, check its health check."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import DATA, ROOT

IMAGE = "digits:test"  # kept after the run: the next build reuses its cached layers
MAX_IMAGE_BYTES = 1_500_000_000


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return done.stdout.strip()


def logs(name: str) -> str:
    """The container's output: the JSON request log on stdout, gunicorn's own lines on stderr."""
    done = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def require_docker() -> None:
    if not shutil.which("docker"):
        reason = "docker is not installed (run ../shared/tools/docker-up)"
    elif subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        reason = "the Docker engine is not running (run ../shared/tools/docker-up)"
    else:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def image() -> str:
    require_docker()
    docker("build", "-t", IMAGE, str(ROOT), timeout=3600)
    return IMAGE


@contextlib.contextmanager
def container(image: str, port: int, *options: str) -> Iterator[str]:
    """Run the image with `port` published on a free local port; removed afterwards whatever happens."""
    name = f"digits-test-{uuid.uuid4().hex[:12]}"
    docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1::{port}",
           "--health-interval", "2s", *options, image)  # the image's health check, run more often
    try:
        yield name
    finally:
        docker("rm", "--force", name, check=False)


def base_url(name: str, port: int) -> str:
    return "http://" + docker("port", name, f"{port}/tcp").splitlines()[0]


def wait_ready(name: str, url: str, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        if docker("inspect", "-f", "{{.State.Running}}", name) != "true":
            break
        time.sleep(1)
    raise AssertionError(f"container not ready:\n{logs(name)[-3000:]}")


def health(name: str, seconds: float = 120) -> str:
    deadline, status = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", name)
        if status != "starting":
            return status
        time.sleep(1)
    return status


def post_image(url: str, path: Path) -> dict:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: image/png\r\n\r\n")
    body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "/predict", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_the_image_lists_the_same_dependencies_as_pyproject():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ \[]", dep)[0].lower().replace("_", "-") for dep in declared}
    lines = (ROOT / "requirements-docker.txt").read_text().splitlines()
    pinned = {re.split(r"[<>=!~ \[]", line)[0].lower().replace("_", "-") for line in lines
              if line.strip() and not line.startswith("#")}
    assert names - {"tensorflow"} <= pinned and "tensorflow-cpu" in pinned and "tensorflow" not in pinned


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_image_serves_the_shipped_model_and_reports_healthy(image):
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image))
    print(f"image size: {size / 1e9:.2f} GB")
    assert size < MAX_IMAGE_BYTES
    with container(image, 8000) as name:
        url = base_url(name, 8000)
        wait_ready(name, url)
        answer = post_image(url, DATA / "digit_7.png")
        assert answer["digits"] == "7"
        assert post_image(url, DATA / "iphone_photo_4.heic")["digits"] == "4"  # pillow-heif is in the image
        with urllib.request.urlopen(url + "/model", timeout=10) as response:
            assert json.loads(response.read())["runtime"] == "litert-int8"  # LiteRT is in the image, agrees
        with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
            assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}
        assert health(name) == "healthy"
        assert docker("exec", name, "id", "-u") != "0"  # not root


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_shipped_model_serves_in_a_container_limited_to_256_mib(image):
    # The image holds the shipped model compiled at build time: no compiling process at start, whose few
    # hundred MB would not fit, and workers without TensorFlow.
    with container(image, 8000, "--memory", "256m", "--memory-swap", "256m") as name:
        url = base_url(name, 8000)
        wait_ready(name, url)
        assert post_image(url, DATA / "digit_7.png")["digits"] == "7"
        assert "SIGKILL" not in logs(name)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_port_workers_and_a_mounted_model_folder_are_honoured(image, tmp_path):
    models = tmp_path / "models"
    shipped = max((p for p in (ROOT / "models").iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    shutil.copytree(shipped, models / "5")
    with container(image, 9000, "-e", "PORT=9000", "-e", "WORKERS=1",
                   "--volume", f"{models}:/app/models:ro") as name:
        url = base_url(name, 9000)
        wait_ready(name, url)
        with urllib.request.urlopen(url + "/model", timeout=10) as response:
            assert json.loads(response.read())["version"] == "5"
        assert post_image(url, DATA / "digit_7.png")["model"] == "5"
        output = logs(name)
        assert output.count("Booting worker") == 1 and ":9000" in output
        assert health(name) == "healthy"
