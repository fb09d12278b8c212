"""GET /metrics: Prometheus metrics, in one process and added up over several gunicorn workers."""

from __future__ import annotations

import io
import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import DATA
from .live_server import serve


def scrape(body: bytes | str) -> dict[tuple, float]:
    """{(sample name, sorted labels...): value} from Prometheus text."""
    text = body.decode() if isinstance(body, bytes) else body
    return {(s.name, *sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metrics(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return scrape(response.get_data())


def post(client, name: str):
    data = {"file": (io.BytesIO((DATA / name).read_bytes()), name)}
    return client.post("/predict", data=data, content_type="multipart/form-data")


def requests_key(route, method, status):
    return ("digits_http_requests_total", ("method", method), ("route", route), ("status", str(status)))


def test_a_reading_counts_the_request_its_latency_and_each_digit_read(client):
    before = metrics(client)
    answer = post(client, "row_2025.png").get_json()
    after = metrics(client)
    key = requests_key("/predict", "POST", 200)
    assert after[key] == before.get(key, 0) + 1
    count = ("digits_http_request_duration_seconds_count", ("route", "/predict"))
    assert after[count] == before.get(count, 0) + 1
    for digit in "0123456789":
        key = ("digits_predicted_total", ("digit", digit))
        assert after[key] == before[key] + answer["digits"].count(digit)


@pytest.mark.parametrize("name, kind, status", [
    ("not_an_image.txt", "not_an_image", 415),
    ("blank_page.png", "no_digit", 422),
    ("empty.png", "missing_file", 400),
])
def test_errors_are_counted_by_kind(client, name, kind, status):
    before = metrics(client)
    assert post(client, name).status_code == status
    after = metrics(client)
    for key in ("digits_errors_total", ("kind", kind)), requests_key("/predict", "POST", status):
        assert after[key] == before.get(key, 0) + 1


def test_invented_paths_share_one_series(client):
    client.get("/a/path/nobody/has")
    client.get("/another/one")
    text = client.get("/metrics").get_data(as_text=True)
    assert "nobody" not in text and "another" not in text
    assert metrics(client)[requests_key("unmatched", "GET", 404)] >= 2


def test_the_served_model_version_is_exported(client, app):
    version = app.extensions["models"].model.version
    assert metrics(client)[("digits_model_info", ("version", version))] == 1


def test_latency_histogram_has_buckets_from_milliseconds_to_seconds(client):
    client.get("/healthz")
    buckets = {dict(key[1:])["le"] for key in metrics(client)
               if key[0] == "digits_http_request_duration_seconds_bucket"}
    assert {"0.005", "0.1", "1.0", "+Inf"} <= buckets


@pytest.mark.slow
def test_under_gunicorn_every_worker_is_counted_and_one_log_line_per_request():
    sent = 24
    with serve(workers=2) as server:
        ids = [f"multi-{n}" for n in range(sent)]
        for request_id in ids:  # a new connection each time: the two workers share them out
            request = urllib.request.Request(server.url + "/healthz", headers={"X-Request-ID": request_id})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        version = json.loads(server.get("/model")[1])["version"]
        # Each scrape is answered by whichever worker accepts it; each must see all the requests.
        totals = []
        for _ in range(6):
            values = scrape(server.get("/metrics")[1])
            totals.append(values[requests_key("/healthz", "GET", 200)])
            assert values[("digits_model_info", ("version", version))] == 1
        assert totals == [sent] * 6
        lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        logged = [line["request_id"] for line in lines if line.get("logger") == "app.requests"]
        assert all(logged.count(request_id) == 1 for request_id in ids)
        assert "GET /healthz HTTP/1.1" not in server.output()  # gunicorn's own access line is off
