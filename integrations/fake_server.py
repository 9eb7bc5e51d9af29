"""A fake OpenAI-compatible HTTP server on loopback, for tests, benchmarks and demos.

It speaks real HTTP/1.1 with keep-alive, serves ``GET /v1/models`` and
``POST /v1/chat/completions``, records every request, counts concurrent chat requests
and can be scripted to fail::

    with FakeOpenAIServer(api_key="k") as server:
        server.push(Fault.status(429, retry_after=1), Fault.status(500))
        ...  # the next two chat requests fail, later ones are answered normally

A normal reply is ``"Fake reply to: <last user message>"`` with ``model`` echoing the
request. Usage is deterministic: prompt_tokens = (total characters of all message
contents) // 4 + 1, completion_tokens = number of words of the reply, total = sum.
When ``max_tokens`` is smaller than the reply's word count the reply is cut to that
many words and ``finish_reason`` is "length".

Other paths: ``GET /`` and anything under ``/html/`` answer a 200 HTML page (to test
clients pointed at a web site), anything under ``/redirect/`` answers 307 to the same
path without that prefix, and everything else a 404 JSON error.

Run ``python -m integrations.fake_server --port 8099`` for a manual demo.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["DEFAULT_MODELS", "FakeOpenAIServer", "Fault", "RecordedRequest"]

DEFAULT_MODELS = ("fake-small", "fake-large", "gpt-4o-mini")

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})

_HTML_PAGE = (
    b"<!doctype html><html><head><title>Fake site</title></head>"
    b"<body><h1>Welcome</h1><p>This is a web page, not an API.</p></body></html>"
)

# Default error bodies in OpenAI's shape for Fault.status(code) without a body.
_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", None),
    404: ("The model does not exist.", "invalid_request_error", "model_not_found"),
    408: ("Request timed out.", "timeout", None),
    409: ("Conflict, please retry.", "server_error", None),
    422: ("Unprocessable request.", "invalid_request_error", None),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


def error_body(message: str, type_: str = "invalid_request_error", code: str | None = None) -> Any:
    """Return an OpenAI-style error body ``{"error": {...}}``."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@dataclass(frozen=True)
class Fault:
    """A scripted misbehaviour for one chat request; build them with the classmethods."""

    kind: str
    status_code: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    nbytes: int = 0

    @classmethod
    def status(
        cls,
        code: int,
        body: Any = None,
        retry_after: float | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer HTTP ``code``; ``body`` may be a dict (sent as JSON), str or bytes.

        Without a body, an OpenAI-style error for that status is sent. ``retry_after``
        becomes a Retry-After header (seconds or an HTTP date string).
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        return cls("status", status_code=code, body=body, headers=tuple(extra.items()))

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None) -> Fault:
        """HTTP 429 rate limit, optionally with Retry-After."""
        return cls.status(429, retry_after=retry_after)

    @classmethod
    def quota_exceeded(cls) -> Fault:
        """HTTP 429 with OpenAI's ``insufficient_quota`` body (billing exhausted)."""
        return cls.status(
            429,
            error_body(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            ),
        )

    @classmethod
    def context_too_long(cls) -> Fault:
        """HTTP 400 with OpenAI's ``context_length_exceeded`` body."""
        return cls.status(
            400,
            error_body(
                "This model's maximum context length is 8192 tokens. However, your messages "
                "resulted in 9000 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
            ),
        )

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep ``seconds`` before replying normally (to trigger client timeouts)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """HTTP 200 with a body that is not valid JSON."""
        return cls("malformed")

    @classmethod
    def empty_choices(cls) -> Fault:
        """HTTP 200 with a well-formed completion whose ``choices`` list is empty."""
        return cls("empty_choices")

    @classmethod
    def huge(cls, nbytes: int) -> Fault:
        """HTTP 200 with a JSON body of ``nbytes`` bytes."""
        return cls("huge", nbytes=nbytes)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls("drop")

    @classmethod
    def html(cls) -> Fault:
        """HTTP 200 with a text/html page."""
        return cls("html")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    time: float = field(default_factory=time.time)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    owner: FakeOpenAIServer

    def __init__(self, address: tuple[str, int], owner: FakeOpenAIServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections so stop() leaves no client hanging."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or abort a huge body make writes fail; that is expected
        # in fault tests and not worth a traceback on stderr.
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    server: _HTTPServer
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 30
    # Headers and body go out in separate writes; with Nagle's algorithm the body would
    # wait for the client's delayed ACK (about 40 ms) on every reply.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return None

    # ------------------------------------------------------------ plumbing

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, data: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), headers=headers)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        return self.rfile.read(int(length))

    def _record(self, body: bytes) -> Any:
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.server.owner._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                json=parsed,
            )
        )
        return parsed

    def _authorized(self) -> bool:
        expected = self.server.owner.api_key
        if expected is None:
            return True
        if self.headers.get("Authorization", "") == f"Bearer {expected}":
            return True
        self._send_json(
            401,
            error_body("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
        )
        return False

    # ------------------------------------------------------------ routes

    def do_GET(self) -> None:
        self._record(self._read_body())
        path = self.path.split("?", 1)[0]
        if path == "/" or path.startswith("/html/"):
            self._send(200, _HTML_PAGE, "text/html; charset=utf-8")
        elif path.startswith("/redirect/"):
            self._send_json(307, {}, headers=[("Location", path[len("/redirect") :])])
        elif path == "/v1/models":
            if self._authorized():
                created = 1700000000
                self._send_json(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": model, "object": "model", "created": created, "owned_by": "fake"}
                            for model in self.server.owner.models
                        ],
                    },
                )
        else:
            self._not_found(path)

    def do_POST(self) -> None:
        body = self._read_body()
        parsed = self._record(body)
        path = self.path.split("?", 1)[0]
        if path.startswith("/html/"):
            self._send(200, _HTML_PAGE, "text/html; charset=utf-8")
        elif path.startswith("/redirect/"):
            self._send_json(307, {}, headers=[("Location", path[len("/redirect") :])])
        elif path == "/v1/chat/completions":
            owner = self.server.owner
            owner._enter()
            try:
                self._chat(body, parsed)
            finally:
                owner._leave()
        else:
            self._not_found(path)

    def do_PUT(self) -> None:
        self._record(self._read_body())
        self._not_found(self.path)

    do_DELETE = do_PUT
    do_PATCH = do_PUT

    def _not_found(self, path: str) -> None:
        self._send_json(
            404, error_body(f"Unknown request URL: {path}", "invalid_request_error", "unknown_url")
        )

    def _chat(self, body: bytes, parsed: Any) -> None:
        owner = self.server.owner
        if not self._authorized():
            return
        problem = _validate_chat(body, parsed)
        if problem is not None:
            self._send_json(400, error_body(problem))
            return
        fault = owner._next_fault()
        if owner.latency > 0:
            time.sleep(owner.latency)
        if fault is None:
            self._send_json(200, owner._completion(parsed))
            return
        kind = fault.kind
        if kind == "delay":
            time.sleep(fault.seconds)
            self._send_json(200, owner._completion(parsed))
        elif kind == "status":
            payload = fault.body
            if payload is None:
                message, type_, code = _DEFAULT_ERRORS.get(
                    fault.status_code, (f"HTTP {fault.status_code}", "server_error", None)
                )
                payload = error_body(message, type_, code)
            if isinstance(payload, bytes):
                raw = payload
            elif isinstance(payload, str):
                raw = payload.encode("utf-8")
            else:
                raw = json.dumps(payload).encode("utf-8")
            self._send(fault.status_code, raw, headers=fault.headers)
        elif kind == "malformed":
            self._send(200, b'{"id": "chatcmpl-broken", "choices": [')
        elif kind == "empty_choices":
            completion = owner._completion(parsed)
            completion["choices"] = []
            self._send_json(200, completion)
        elif kind == "huge":
            self._send_huge(fault.nbytes)
        elif kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif kind == "html":
            self._send(200, _HTML_PAGE, "text/html; charset=utf-8")
        else:  # pragma: no cover - guarded by the Fault constructors
            raise ValueError(f"unknown fault kind {kind!r}")

    def _send_huge(self, nbytes: int) -> None:
        head, tail = b'{"padding": "', b'"}'
        filler = max(0, nbytes - len(head) - len(tail))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(head) + filler + len(tail)))
        self.end_headers()
        self.wfile.write(head)
        block = b"x" * 65536
        while filler > 0:
            piece = block[: min(filler, len(block))]
            self.wfile.write(piece)
            filler -= len(piece)
        self.wfile.write(tail)


def _validate_chat(body: bytes, parsed: Any) -> str | None:
    """Return why the body is not a valid Chat Completions request, or None."""
    if parsed is None:
        return "We could not parse the JSON body of your request."
    if not isinstance(parsed, dict):
        return "The request body must be a JSON object."
    model = parsed.get("model")
    if not isinstance(model, str) or not model:
        return "you must provide a model parameter"
    messages = parsed.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array."
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{index}] must be an object."
        if message.get("role") not in _ROLES:
            return f"Invalid value for 'messages[{index}].role': {message.get('role')!r}."
        content = message.get("content")
        if not isinstance(content, str | list):
            return f"Invalid type for 'messages[{index}].content': expected a string or array."
    if parsed.get("stream"):
        return "The fake server does not support streaming."
    temperature = parsed.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        return "'temperature' must be a number between 0 and 2."
    max_tokens = parsed.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        return "'max_tokens' must be a positive integer."
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class FakeOpenAIServer:
    """A threaded fake OpenAI-compatible server on ``host:port`` (port 0 = any free one).

    ``api_key``, ``latency`` and ``models`` may be changed while the server runs. All
    recording and fault state is protected by a lock, so tests may read it from any
    thread.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        latency: float = 0.0,
        models: Iterable[str] = DEFAULT_MODELS,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.latency = latency
        self.models: list[str] = list(models)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._default_fault: Fault | None = None
        self._in_flight = 0
        self._max_in_flight = 0
        self._ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIServer:
        """Bind and start serving in a background thread; return self."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), self)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and cut open connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL of this server: ``url + "/v1"``."""
        return self.url + "/v1"

    # ------------------------------------------------------------ scripting

    def push(self, *faults: Fault) -> None:
        """Queue faults for the next chat requests, one per request, first in first out."""
        with self._lock:
            self._faults.extend(faults)

    def set_default(self, fault: Fault | None) -> None:
        """Apply ``fault`` to every chat request with no queued fault (None = normal)."""
        with self._lock:
            self._default_fault = fault

    def reset(self) -> None:
        """Forget recorded requests, queued and default faults, and the concurrency peak."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._default_fault = None
            self._max_in_flight = self._in_flight

    # ------------------------------------------------------------ observations

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded POST requests to /v1/chat/completions."""
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @property
    def in_flight(self) -> int:
        """Number of chat requests being handled right now."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """Highest number of chat requests handled at the same time."""
        with self._lock:
            return self._max_in_flight

    # ------------------------------------------------------------ internals

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            return self._default_fault

    def _completion(self, request: dict[str, Any]) -> dict[str, Any]:
        messages = request["messages"]
        last_user = next(
            (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        reply = f"Fake reply to: {last_user}"
        words = reply.split()
        finish = "stop"
        max_tokens = request.get("max_tokens")
        if isinstance(max_tokens, int) and len(words) > max_tokens:
            words = words[:max_tokens]
            reply = " ".join(words)
            finish = "length"
        prompt_tokens = sum(len(_text_of(m.get("content"))) for m in messages) // 4 + 1
        completion_tokens = len(words)
        with self._lock:
            number = next(self._ids)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: serve until interrupted."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server for demos.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to replies")
    parser.add_argument("--api-key", default=None, help="require this key (default: any)")
    parser.add_argument("--model", action="append", dest="models", help="model id (repeatable)")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        args.host,
        args.port,
        api_key=args.api_key,
        latency=args.latency,
        models=args.models or DEFAULT_MODELS,
    )
    server.start()
    print(f"Fake OpenAI-compatible server listening; base URL: {server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
