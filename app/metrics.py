"""Prometheus metrics: requests, latency, digits read, errors and the model version served."""

from __future__ import annotations

import os
import time

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.model import Model

# Seconds; a one-digit upload takes a few milliseconds, a large photo a few hundred.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class Metrics:
    """The service's metrics on a registry of their own, so that tests can build many apps.

    Under gunicorn, `digits serve` sets PROMETHEUS_MULTIPROC_DIR: every worker then writes its
    values there and /metrics adds up all workers, whichever worker answers the scrape.
    """

    def __init__(self, app: Flask) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("digits_http_requests", "HTTP requests answered, by route, method and status",
                                ["route", "method", "status"], registry=registry)
        self.latency = Histogram("digits_http_request_duration_seconds", "Time to answer a request, by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=registry)
        self.digits = Counter("digits_predicted", "Digits read from uploads, by the digit predicted",
                              ["digit"], registry=registry)
        self.errors = Counter("digits_errors", "Error answers, by kind", ["kind"], registry=registry)
        # livemax: a worker that died no longer counts, and during a reload both versions show 1.
        self.model = Gauge("digits_model_info", "1 for the model version being served", ["version"],
                           multiprocess_mode="livemax", registry=registry)
        self.reloads = Counter("digits_model_swaps", "Model versions swapped in since start",
                               registry=registry)
        for digit in range(10):
            self.digits.labels(str(digit))  # every digit shows, at 0 until first read
        app.extensions["metrics"] = self
        app.before_request(self._start)
        app.after_request(self._record)
        app.extensions["models"].on_swap(self.serving)

    def serving(self, new: Model, old: Model | None) -> None:
        """Record a model swap (listener of the ModelStore)."""
        if old is not None:
            self.model.labels(old.version).set(0)
            self.reloads.inc()
        self.model.labels(new.version).set(1)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not path:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    @staticmethod
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    def _record(self, response):
        # The route pattern, not the path: paths a client invents must not create new series.
        route = request.url_rule.rule if request.url_rule else "unmatched"
        started = g.get("metrics_started", time.perf_counter())
        method = request.method if request.method in METHODS else "other"
        self.requests.labels(route, method, str(response.status_code)).inc()
        self.latency.labels(route).observe(time.perf_counter() - started)
        for digit in g.get("digits_read", ""):
            self.digits.labels(digit).inc()
        kind = request.environ.get("digits.error_kind")
        if kind:
            self.errors.labels(kind).inc()
        return response
