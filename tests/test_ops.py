"""Operating endpoints: /healthz, /readyz, /model, /openapi.json, the request id and the JSON request log."""

from __future__ import annotations

import importlib
import io
import json
from datetime import datetime

import pytest

from .conftest import DATA


def post_digit(client, **kwargs):
    data = {"file": (io.BytesIO((DATA / "digit_7.png").read_bytes()), "digit_7.png")}
    return client.post("/predict", data=data, content_type="multipart/form-data", **kwargs)


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_names_the_loaded_model(client, app):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "model": app.extensions["models"].model.version}


def test_without_a_loaded_model_readyz_and_predict_answer_503_but_healthz_200(client, app, monkeypatch):
    monkeypatch.setattr(app.extensions["models"], "model", None)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "loading" in ready.get_json()["error"]
    assert post_digit(client).status_code == 503
    assert client.get("/healthz").status_code == 200


def test_model_endpoint_gives_the_saved_metadata(client, app):
    served = app.extensions["models"].model
    saved = json.loads((served.path / "metadata.json").read_text())
    body = client.get("/model").get_json()
    assert body["version"] == served.version and body["version"].isdigit()
    assert body["test_accuracy"] == saved["test_accuracy"] and 0 <= body["test_accuracy"] <= 1
    assert body["input_shape"] == [28, 28, 1]
    assert body["classes"] == list(range(10))
    assert datetime.fromisoformat(body["trained_at"]).year >= 2024
    assert body["runtime"] == "litert-int8"  # the shipped model compiles and agrees with its signature


def test_openapi_describes_every_endpoint_of_the_app(client, app):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    routes = {(rule.rule, method.lower()) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == routes
    for path, method in routes:
        operation = spec["paths"][path][method]
        assert operation["summary"], f"{method} {path} has no summary"
        assert any(status.startswith("2") for status in operation["responses"]), f"{method} {path}"


def test_openapi_documents_predict_parameters_answers_and_errors(client):
    spec = client.get("/openapi.json").get_json()
    predict = spec["paths"]["/predict"]["post"]
    params = {p["name"]: p for p in predict["parameters"]}
    assert params["mode"]["schema"]["enum"] == ["auto", "single"]
    assert set(params["include"]["schema"]["enum"]) == {"input", "preview", "input,preview", "preview,input"}
    assert "preview" in spec["components"]["schemas"]["Reading"]["properties"]
    assert predict["requestBody"]["content"]["multipart/form-data"]["schema"]["required"] == ["file"]
    assert set(predict["responses"]) >= {"200", "400", "413", "415", "422"}
    error = predict["responses"]["415"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]


def test_request_id_is_echoed_when_given_and_made_up_when_not(client):
    assert client.get("/healthz", headers={"X-Request-ID": "trace-42"}).headers["X-Request-ID"] == "trace-42"
    made_up = client.get("/healthz").headers["X-Request-ID"]
    assert len(made_up) == 32 and int(made_up, 16) >= 0


@pytest.mark.parametrize("unsafe", ["<script>alert(1)</script>", "a" * 500, "id with spaces"])
def test_an_unsafe_request_id_is_replaced_not_reflected(client, unsafe):
    echoed = client.get("/healthz", headers={"X-Request-ID": unsafe}).headers["X-Request-ID"]
    assert echoed != unsafe and len(echoed) == 32


def test_one_json_log_line_per_request_with_what_happened(client, capsys):
    capsys.readouterr()
    response = post_digit(client, headers={"X-Request-ID": "log-check-1"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [line] = [entry for entry in lines if entry.get("logger") == "app.requests"]
    body = response.get_json()
    assert line["method"] == "POST" and line["path"] == "/predict" and line["status"] == 200
    assert line["digits"] == body["digits"] and line["model"] == body["model"]
    assert line["request_id"] == "log-check-1" and line["duration_ms"] > 0


def test_error_answers_are_logged_with_their_status(client, capsys):
    capsys.readouterr()
    client.get("/no/such/page")
    [line] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"app.requests"' in line]
    assert line["status"] == 404 and line["path"] == "/no/such/page" and line["digits"] is None


def test_gunicorn_access_log_is_off_unless_asked_for(monkeypatch):
    import app.gunicorn_conf as conf

    monkeypatch.delenv("ACCESS_LOG", raising=False)
    assert importlib.reload(conf).accesslog is None
    monkeypatch.setenv("ACCESS_LOG", "-")
    assert importlib.reload(conf).accesslog == "-"
    monkeypatch.delenv("ACCESS_LOG")
    importlib.reload(conf)
