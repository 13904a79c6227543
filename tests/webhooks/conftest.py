"""A real HTTP receiver on 127.0.0.1, and helpers to register endpoints the way staff do."""

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hubs.webhooks import services

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    answered: int

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next status of ``script`` (then ``default``) and records it."""

    url: str
    script: list[int] = field(default_factory=list)
    default: int = 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]


@pytest.fixture
def receiver():
    state = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = state["receiver"].next_status()
            state["receiver"].requests.append(Received(self.path, dict(self.headers), body, status))
            payload = b'{"ok": true}' if status < 300 else b"receiver is down"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def verify_signature():
    """The receiver function documented in docs/webhooks.md, executed from the docs themselves."""
    text = DOCS.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    namespace = {}
    exec(blocks[0], namespace)  # noqa: S102 - our own documentation's example
    return namespace["verify_signature"]


def make_endpoint(*, hub, acting_user, url, event_types=("application.submitted",), **kwargs):
    return services.endpoint_create(hub=hub, url=url, event_types=list(event_types), acting_user=acting_user, **kwargs)
