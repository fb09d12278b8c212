"""gunicorn's thread worker, sharing connections opened at once out among the workers."""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):
    """gthread, except that a worker whose threads are all busy takes no new connection.

    All workers wait on the one listening socket, and gthread's worker takes every connection it can, up to
    `worker_connections` (1,000). A client that keeps its connections alive (a proxy's connection pool, wrk,
    hey) opens them all at once, and the first worker to wake often took them all: it then served every
    request on the one core its GIL allows while the other worker idled, at under half the service's
    throughput (docs/PERFORMANCE.md). Here a worker stops taking connections while as many requests are in
    its threads as it has threads, so the next worker with a free thread takes them. Connections a worker
    holds already are served as before. Two connections opened at once can still go to one worker of two
    threads."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight = 0  # requests handed to the thread pool and not yet finished (main thread only)

    def set_accept_enabled(self, enabled):
        """gthread's run loop enables accepting under `worker_connections`: only with a thread free."""
        super().set_accept_enabled(enabled and self.in_flight < self.cfg.threads)

    def enqueue_req(self, conn):
        self.in_flight += 1
        if self.in_flight >= self.cfg.threads:
            super().set_accept_enabled(False)  # the run loop enables it again once a thread is free
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.in_flight -= 1
        super().finish_request(conn, fs)
