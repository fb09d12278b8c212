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
    names = ("digit_7.png", "row_2025.png", "joined_10.png")
    result = digits("predict", *(str(DATA / name) for name in names))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{DATA / 'digit_7.png'}: 7 (")
    assert lines[1].startswith(f"{DATA / 'row_2025.png'}: 2025 (")
    # The 0 is read at 99.9986%: rounded down, as the web page shows it, never a false 100%.
    assert lines[2] == f"{DATA / 'joined_10.png'}: 10 (99.8%, 99.9%)"
    # TensorFlow's and LiteRT's start-up lines (no GPU, oneDNN, XNNPACK) are not the user's business.
    assert "XNNPACK" not in result.stderr and "absl" not in result.stderr and "cuda" not in result.stderr


def test_native_start_up_lines_are_dropped_and_everything_else_is_passed_on(capfd):
    from app.model import native_output_held

    with native_output_held():
        os.write(2, b"I0000 00:00:1796121433.814832   30710 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"serving model version 4\n")
    assert capfd.readouterr().err == "serving model version 4\n"
    try:
        with native_output_held():
            os.write(2, b"E0000 00:00:1796121435.770902   30710 cuda_platform.cc:52] failed call to cuInit\n")
            raise RuntimeError("the model did not load")
    except RuntimeError:
        pass
    assert "cuInit" in capfd.readouterr().err  # loading failed: every line, as it may say why


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
