"""What the fake servers share: a threaded HTTP server on 127.0.0.1, its start/stop
lifecycle, and a quiet request handler that answers with one complete body."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 makes concurrent clients wait 1 s for a SYN retry

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(
            sys.exc_info()[1], ConnectionError
        ):  # a killed client (the crash soak) is not a fault of the fake
            super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1; no access log (tests read the fake's recorded requests instead)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, status: int, text: str, content_type: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        payload = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer


class LocalServer:
    """Mixin for a fake: ``start()`` serves ``_handler()`` on 127.0.0.1 in a daemon thread;
    the handler reaches the fake as ``self.fake``. Also a context manager."""

    _server: ThreadingHTTPServer | None = None

    def _handler(self) -> type[QuietHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None, f"start() the {type(self).__name__} first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> Self:
        handler = type("Handler", (self._handler(),), {"fake": self})
        self._server = _Server(("127.0.0.1", port), handler)
        # shutdown() waits for the loop's next poll: 0.5 s by default, paid at every fixture's teardown
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_until_interrupted(self) -> None:
        """For ``python -m tests.fakes.<name>``: serve until Ctrl-C (or SIGTERM ends the process)."""
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
