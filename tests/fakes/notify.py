"""A notification endpoint on 127.0.0.1 that records what apprise's json:// target posts.

``url`` is the apprise URL to configure (``json://127.0.0.1:PORT/hook/TOKEN``); each POST
is kept in ``received`` as (path, parsed JSON body). ``status`` makes it answer with an
error instead, to check that a failing notification never fails a tick.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class NotifyEndpoint:
    token: str = "hooktoken-N0T1FY-s3cr3t"
    status: int = 200
    received: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_address[1]}/hook/{self.token}"

    def messages(self) -> list[dict]:
        return [body for _, body in self.received]

    def __enter__(self) -> NotifyEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if endpoint.status == 200:
                    endpoint.received.append((self.path, json.loads(body)))
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )  # a quick shutdown()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":  # run by hand: prints what it receives
    with NotifyEndpoint() as endpoint:
        print(endpoint.url, flush=True)
        threading.Event().wait()
