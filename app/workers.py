"""gunicorn's thread worker (gthread), sharing new connections among the workers and keeping silent ones off
its threads."""

from __future__ import annotations

import selectors
import time
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

# A new connection whose first bytes have not come this soon waits for them in the poller, not in a thread
# (see _wait_in_poller). A client that connects to send a request sends it at once.
FIRST_BYTES_SECONDS = 0.002


class BalancedThreadWorker(ThreadWorker):
    """gthread, except that a worker whose threads are all busy takes no new connection.

    All workers wait on the one listening socket, and gthread's worker takes every connection it can, up to
    `worker_connections` (1,000). A client that keeps its connections alive (a proxy's connection pool, wrk,
    hey) opens them all at once, and the first worker to wake often took them all: it then served every
    request on the one core its GIL allows while the other worker idled, at under half the service's
    throughput (docs/PERFORMANCE.md). Here a worker stops taking connections while as many requests are in
    its threads as it has threads, so the next worker with a free thread takes them. Connections a worker
    holds already are served as before. Two connections opened at once can still go to one worker of two
    threads. And a new connection that sends nothing waits in the poller, not in a thread."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight = 0  # requests handed to the thread pool and not yet finished (main thread only)

    def set_accept_enabled(self, enabled):
        """gthread's run loop enables accepting under `worker_connections`: only with a thread free."""
        super().set_accept_enabled(enabled and self.in_flight < self.cfg.threads)

    def enqueue_req(self, conn):
        if not (conn.initialized or conn.data_ready or conn.wait_for_data(FIRST_BYTES_SECONDS)):
            self._wait_in_poller(conn)
            return
        self.in_flight += 1
        if self.in_flight >= self.cfg.threads:
            super().set_accept_enabled(False)  # the run loop enables it again once a thread is free
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.in_flight -= 1
        super().finish_request(conn, fs)

    def _wait_in_poller(self, conn):
        """A new connection that has sent nothing yet waits in the poller, not in a thread. gthread's thread
        waited 5 s for its first bytes, so four such connections (a browser's preconnects, `nc` left open)
        held up every request to the service for 4.8 s, eight for 9.8 s. This is gthread's own path for a
        connection its thread gave up on (finish_request); it is closed after `keepalive` seconds of
        silence."""
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

