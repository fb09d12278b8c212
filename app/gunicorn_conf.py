"""gunicorn settings for `digits serve` and the Docker image; every value can be set from the environment."""

import os
import shutil
from pathlib import Path

from app.cli import METRICS_DIR_PREFIX

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Two processes of two threads (bench/load.py, docs/PERFORMANCE.md): LiteRT, numpy and much of Pillow
# release the GIL, gthread keeps connections alive, and a second process keeps the service answering while
# a crashed worker is replaced. The worker class is gthread's, adapted in app/workers.py.
workers = int(os.environ.get("WORKERS", "2"))
threads = int(os.environ.get("THREADS", "2"))
worker_class = "app.workers.BalancedThreadWorker" if threads > 1 else "sync"
timeout = int(os.environ.get("TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
keepalive = 5
wsgi_app = "app.wsgi:create()"
# The app is built in each worker, after the fork; the master only compiles the model (when_ready), in a
# separate process: TensorFlow does not survive a fork.
preload_app = False
# The app writes one JSON line per request to stdout; ACCESS_LOG=- adds gunicorn's own access line.
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


def when_ready(server):
    """Compile the model once, before the workers start (the port is open already: a request sent meanwhile
    waits for them): each worker, and one started after a crash, then serves the compiled copy without
    importing TensorFlow (app/litert.py). A model that cannot be loaded is left to the workers, which report
    it and stop the server."""
    from app import litert, model

    try:
        litert.compile_newest()
    except model.ModelError:
        pass  # the workers load it again, say what is wrong with it, and stop the server
    except Exception:  # the workers still try it
        server.log.exception("compiling the model before the workers start failed")


def child_exit(server, worker):
    """A worker ended (or was killed): drop its live gauges from the shared metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder `digits serve` made for this run."""
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or ".")
    if folder.name.startswith(METRICS_DIR_PREFIX):  # never a folder the user chose
        shutil.rmtree(folder, ignore_errors=True)
