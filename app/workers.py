"""gunicorn's thread worker, sharing new connections out among the workers."""

from __future__ import annotations

import time

from gunicorn.workers.gthread import ThreadWorker

# A busy worker waits this long before it takes a new connection: an idle worker, woken by the same
# connection, takes it first (0.2 ms: two connections opened at once by `wrk -c2` went to one worker in 2 of 3
# runs without it, to both in 4 of 4 with it).
HANDOFF_SECONDS = 0.0002


class BalancedThreadWorker(ThreadWorker):
    """gthread, except that a worker whose threads are all busy takes no new connection.

    All workers wait on the one listening socket, and gthread's worker takes every connection it can, up to
    `worker_connections` (1,000). A client that keeps its connections alive (a proxy's connection pool, wrk,
    hey) opens them all at once, and the first worker to wake often took them all: it then served every
    request on the one core its GIL allows while the other worker idled, at a third of the service's
    throughput (docs/PERFORMANCE.md). Here a worker stops taking connections while as many requests are in
    its threads as it has threads, so the next worker with a free thread takes them, and a busy worker waits
    HANDOFF_SECONDS first. Connections a worker holds already are served as before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight = 0  # requests handed to the thread pool and not yet finished (main thread only)

    def set_accept_enabled(self, enabled):
        """gthread's run loop enables accepting under `worker_connections`: only with a thread free."""
        super().set_accept_enabled(enabled and self.in_flight < self.cfg.threads)

    def accept(self, listener):
        if self.in_flight:
            time.sleep(HANDOFF_SECONDS)
        super().accept(listener)  # takes nothing if another worker took the connection meanwhile

    def enqueue_req(self, conn):
        self.in_flight += 1
        if self.in_flight >= self.cfg.threads:
            super().set_accept_enabled(False)  # the run loop enables it again once a thread is free
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.in_flight -= 1
        super().finish_request(conn, fs)
