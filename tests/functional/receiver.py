"""A real HTTP server on 127.0.0.1 that records what it is sent (or hangs), for alert and ping tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records each request as (method, path, JSON body or None); ``hang`` holds every request open until closed."""

    def __init__(self, *, hang: bool = False) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.arrived: list[float] = []
        """When each request arrived (time.monotonic()), in the order of ``requests``."""
        self.changed = threading.Condition()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with receiver.changed:
                    receiver.requests.append((self.command, self.path, json.loads(raw) if raw else None))
                    receiver.arrived.append(time.monotonic())
                    receiver.changed.notify_all()
                if hang:
                    receiver.released.wait(120)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def json_url(self) -> str:
        """The Apprise URL that posts JSON here."""
        return f"json://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ping"

    def messages(self) -> list[dict[str, Any]]:
        with self.changed:
            return [body for method, _, body in self.requests if method == "POST" and body is not None]

    def wait(self, count: int, timeout: float = 60.0) -> list[tuple[str, str, Any]]:
        """Wait until at least ``count`` requests arrived; all of them."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} requests arrived, {count} awaited: {self.requests}")
                self.changed.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
