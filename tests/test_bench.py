"""The load benchmark: a short smoke run against the real server, and its report; no timing assertions."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT, wrk_path


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    """Run bench/load.py for a few seconds per cell and return its JSON report."""
    wrk_path()
    out = tmp_path_factory.mktemp("bench") / "report.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--duration", "1", "--warmup", "1", "--connections", "1,2",
         "--memory-requests", "60", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_smoke_run_reports_every_cell(smoke_report):
    cells = {(r["image"], r["connections"], r["server"]) for r in smoke_report["rows"]}
    expected = {(image, conns, server) for image in ("28x28 PNG", "600x600 JPEG", "5-digit row")
                for conns in (1, 2) for server in ("bare", "product")}
    assert cells == expected
    assert all(r["requests"] > 0 and r["rps"] > 0 for r in smoke_report["rows"])


@pytest.mark.slow
def test_ceiling_runs_under_the_same_gunicorn_setup(smoke_report):
    server = smoke_report["server"]
    assert server["workers"] >= 1
    assert server["bare"] == {"worker_class": server["worker_class"], "workers": server["workers"]}


@pytest.mark.slow
def test_smoke_run_has_no_errors(smoke_report):
    assert [r for r in smoke_report["rows"] if r["errors"]] == []


@pytest.mark.slow
def test_smoke_run_reads_every_digit(smoke_report):
    assert smoke_report["digits_found"] == {"28x28 PNG": 1, "600x600 JPEG": 1, "5-digit row": 5}


@pytest.mark.slow
def test_smoke_run_measures_memory_and_startup(smoke_report):
    first, second = smoke_report["memory"]
    # The smoke run asks for 60: memory after at least 60 requests, then after at least 60 more.
    assert first["after_requests"] >= 60
    assert second["after_requests"] >= first["after_requests"] + 60
    assert first["processes"] >= 2 and first["rss_mb"] > 0 and first["pss_mb"] > 0
    assert smoke_report["startup_seconds"] > 0
    assert smoke_report["machine"]["cores"] >= 1
    assert {t["target"] for t in smoke_report["targets"]} >= {"errors under load (both servers)"}


def test_report_rewrites_only_its_section(tmp_path):
    from bench import report

    doc = tmp_path / "PERFORMANCE.md"
    before, after = "# Performance\n\nHow to run it.\n\n", "\n\nNotes.\n"
    doc.write_text(f"{before}{report.START}\nold table\n{report.END}{after}")
    report.update_doc(doc, "new table")
    assert doc.read_text() == f"{before}{report.START}\nnew table\n{report.END}{after}"


def test_bare_endpoint_reads_the_upload_like_the_product():
    from bench.bare_app import create

    client = create().test_client()
    image = (ROOT / "bench" / "images" / "digit_28.png").read_bytes()
    answer = client.post("/predict", data={"file": (io.BytesIO(image), "digit.png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200 and answer.get_json()["digit"] == 7
    missing = client.post("/predict", data={}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "file" in missing.get_json()["error"]
