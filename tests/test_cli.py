"""The `digits` command, run as a user runs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

from .conftest import DATA, ROOT

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def digits(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    command = shutil.which("digits")
    assert command, "the `digits` command is not on PATH: install the project as the README says"
    return subprocess.run([command, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or ENV, timeout=timeout)


def test_predict_prints_the_digits_of_each_file():
    result = digits("predict", str(DATA / "digit_7.png"), str(DATA / "row_2025.png"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{DATA / 'digit_7.png'}: 7 (")
    assert lines[1].startswith(f"{DATA / 'row_2025.png'}: 2025 (")


def test_predict_reports_a_bad_file_and_fails():
    result = digits("predict", str(DATA / "not_an_image.txt"), str(DATA / "digit_7.png"))
    assert result.returncode == 1
    assert "not_an_image.txt: error: the file is not an image" in result.stdout
    assert "digit_7.png: 7" in result.stdout


def test_serve_without_a_model_stops_with_one_line_naming_the_path(tmp_path):
    result = digits("serve", "--port", str(_free_port()), env={**ENV, "MODEL_DIR": str(tmp_path)}, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert str(tmp_path) in result.stderr and "no model" in result.stderr


def test_serve_with_a_broken_model_stops_instead_of_starting_half_alive(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"garbage")
    result = digits("serve", "--port", str(_free_port()), "--workers", "1",
                    env={**ENV, "MODEL_DIR": str(tmp_path)}, timeout=120)
    assert result.returncode != 0
    assert f"could not load the model at {tmp_path / '1'}" in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
