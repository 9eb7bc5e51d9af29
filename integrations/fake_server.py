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

It also speaks YandexGPT (Yandex Cloud Foundation Models) at the server's root URL:
``POST /foundationModels/v1/completion`` answers the same reply and usage in Yandex's
shape (``{"result": {"alternatives": [...], "usage": {...}}}``, counts as strings,
status ``ALTERNATIVE_STATUS_FINAL`` or ``..._TRUNCATED_FINAL`` when ``maxTokens`` cuts
it) after checking the body (``modelUri``, ``messages`` of role + text,
``completionOptions``) and ``Authorization: Api-Key <key>`` or ``Bearer <key>``. Chat
requests of both APIs share one fault queue; faults and errors are sent in Yandex's
error shape there. ``POST /foundationModels/v1/tokenize`` answers a word list (never
faulted).

Other paths: ``GET /`` and anything under ``/html/`` answer a 200 HTML page (to test
clients pointed at a web site), anything under ``/redirect/`` answers 307 to the same
path without that prefix, and everything else a 404 JSON error.

Run ``python -m integrations.fake_server --port 8099`` for a manual demo.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = [
    "DEFAULT_MODELS",
    "YANDEX_COMPLETION_PATH",
    "FakeOpenAIServer",
    "Fault",
    "RecordedRequest",
    "yandex_error_body",
]

DEFAULT_MODELS = ("fake-small", "fake-large", "gpt-4o-mini")

_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})

YANDEX_COMPLETION_PATH = "/foundationModels/v1/completion"
YANDEX_TOKENIZE_PATH = "/foundationModels/v1/tokenize"
YANDEX_MODEL_VERSION = "23.10.2024"
_YANDEX_ROLES = frozenset({"system", "user", "assistant"})
_YANDEX_BODY_KEYS = frozenset(
    {
        "modelUri",
        "completionOptions",
        "messages",
        "tools",
        "jsonObject",
        "jsonSchema",
        "parallelToolCalls",
        "toolChoice",
    }
)
_YANDEX_OPTION_KEYS = frozenset({"stream", "temperature", "maxTokens", "reasoningOptions"})
_YANDEX_REASONING_MODES = frozenset({"REASONING_MODE_UNSPECIFIED", "DISABLED", "ENABLED_HIDDEN"})
_MODEL_URI_RE = re.compile(r"^(gpt|ds)://[^/\s]+/[^\s]+$")

# Default Yandex error bodies for Fault.status(code) without a body: grpcCode, message.
_YANDEX_ERRORS: dict[int, tuple[int, str]] = {
    400: (3, "Invalid request."),
    401: (16, "Unknown api key"),
    403: (7, "Permission denied to use the model in this folder."),
    404: (5, "Model not found."),
    408: (4, "Request timed out."),
    409: (10, "Conflict, please retry."),
    429: (8, "Too many requests: the rate quota of the folder is reached."),
    500: (13, "Internal error."),
    502: (14, "Bad gateway."),
    503: (14, "The service is unavailable, please try again later."),
    504: (4, "Deadline exceeded."),
}

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


def yandex_error_body(status: int, message: str | None = None) -> Any:
    """Return a Yandex Cloud error body ``{"error": {"grpcCode", "httpCode", ...}}``."""
    grpc, default = _YANDEX_ERRORS.get(status, (2, f"HTTP {status}"))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return {
        "error": {
            "grpcCode": grpc,
            "httpCode": status,
            "message": message or default,
            "httpStatus": phrase,
            "details": [],
        }
    }


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

    def _authorized(self, api: str = "openai") -> bool:
        expected = self.server.owner.api_key
        if expected is None:
            return True
        given = self.headers.get("Authorization", "")
        if given == f"Bearer {expected}":
            return True
        if api == "openai":
            self._send_json(
                401,
                error_body(
                    "Incorrect API key provided", "invalid_request_error", "invalid_api_key"
                ),
            )
            return False
        if given == f"Api-Key {expected}":
            return True
        if api == "yandex":
            self._send_json(401, yandex_error_body(401))
        else:  # a unary Yandex method: the plain gRPC status shape
            self._send_json(401, {"code": 16, "message": "Unknown api key", "details": []})
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
        elif path in ("/v1/chat/completions", YANDEX_COMPLETION_PATH):
            owner = self.server.owner
            owner._enter()
            try:
                self._chat(body, parsed, "openai" if path.startswith("/v1/") else "yandex")
            finally:
                owner._leave()
        elif path == YANDEX_TOKENIZE_PATH:
            self._tokenize(parsed)
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

    def _tokenize(self, parsed: Any) -> None:
        if not self._authorized("yandex-unary"):
            return
        problem = None
        if not isinstance(parsed, dict):
            problem = "The request body must be a JSON object."
        elif not isinstance(parsed.get("modelUri"), str) or not _MODEL_URI_RE.match(
            parsed["modelUri"]
        ):
            problem = f"invalid model_uri: {parsed.get('modelUri')!r}"
        elif not isinstance(parsed.get("text"), str):
            problem = "'text' must be a string."
        if problem is not None:
            self._send_json(400, {"code": 3, "message": problem, "details": []})
            return
        tokens = [
            {"id": str(index + 1), "text": word, "special": False}
            for index, word in enumerate(parsed["text"].split())
        ]
        self._send_json(200, {"tokens": tokens, "modelVersion": YANDEX_MODEL_VERSION})

    def _chat(self, body: bytes, parsed: Any, api: str = "openai") -> None:
        owner = self.server.owner
        yandex = api == "yandex"
        if not self._authorized(api):
            return
        problem = _validate_yandex(parsed) if yandex else _validate_chat(body, parsed)
        if problem is not None:
            self._send_json(400, yandex_error_body(400, problem) if yandex else error_body(problem))
            return
        complete = owner._yandex_completion if yandex else owner._completion
        fault = owner._next_fault()
        if owner.latency > 0:
            time.sleep(owner.latency)
        if fault is None:
            self._send_json(200, complete(parsed))
            return
        kind = fault.kind
        if kind == "delay":
            time.sleep(fault.seconds)
            self._send_json(200, complete(parsed))
        elif kind == "status":
            payload = fault.body
            if payload is None and yandex:
                payload = yandex_error_body(fault.status_code)
            elif payload is None:
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
            if yandex:
                self._send(200, b'{"result": {"alternatives": [')
            else:
                self._send(200, b'{"id": "chatcmpl-broken", "choices": [')
        elif kind == "empty_choices":
            completion = complete(parsed)
            if yandex:
                completion["result"]["alternatives"] = []
            else:
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


def _validate_yandex(parsed: Any) -> str | None:
    """Return why the body is not a valid YandexGPT completion request, or None."""
    if parsed is None:
        return "Failed to parse the JSON body of the request."
    if not isinstance(parsed, dict):
        return "The request body must be a JSON object."
    unknown = sorted(set(parsed) - _YANDEX_BODY_KEYS)
    if unknown:
        return f"invalid JSON payload: unknown field {unknown[0]!r}"
    uri = parsed.get("modelUri")
    if not isinstance(uri, str) or not _MODEL_URI_RE.match(uri):
        return f"invalid model_uri: {uri!r}"
    messages = parsed.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array."
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{index}] must be an object."
        if message.get("role") not in _YANDEX_ROLES:
            return f"messages[{index}]: unknown role {message.get('role')!r}."
        extra = sorted(set(message) - {"role", "text"})
        if extra:
            return f"messages[{index}]: unknown field {extra[0]!r}."
        if not isinstance(message.get("text"), str):
            return f"messages[{index}].text must be a string."
    options = parsed.get("completionOptions", {})
    if not isinstance(options, dict):
        return "'completionOptions' must be an object."
    unknown = sorted(set(options) - _YANDEX_OPTION_KEYS)
    if unknown:
        return f"completionOptions: unknown field {unknown[0]!r}"
    if options.get("stream"):
        return "The fake server does not support streaming."
    temperature = options.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float)
        or isinstance(temperature, bool)
        or not 0 <= temperature <= 1
    ):
        return "completionOptions.temperature must be a number between 0 and 1."
    if "maxTokens" in options and _positive(options["maxTokens"]) is None:
        return "completionOptions.maxTokens must be a positive integer."
    reasoning = options.get("reasoningOptions")
    if reasoning is not None and (
        not isinstance(reasoning, dict) or reasoning.get("mode") not in _YANDEX_REASONING_MODES
    ):
        return "completionOptions.reasoningOptions.mode is invalid."
    return None


def _positive(value: Any) -> int | None:
    """A positive int from an int or a digit string (int64 is a string in JSON), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and value >= 1 else None


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
    def yandex_requests(self) -> list[RecordedRequest]:
        """The recorded POST requests to /foundationModels/v1/completion."""
        return [r for r in self.requests if r.path == YANDEX_COMPLETION_PATH]

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

    @staticmethod
    def _reply(texts: list[tuple[str, str]], max_tokens: int | None) -> tuple[str, int, int, bool]:
        """Reply text, prompt and completion tokens, and whether it was cut, for messages."""
        last_user = next((text for role, text in reversed(texts) if role == "user"), "")
        reply = f"Fake reply to: {last_user}"
        words = reply.split()
        cut = max_tokens is not None and len(words) > max_tokens
        if cut:
            words = words[:max_tokens]
            reply = " ".join(words)
        prompt_tokens = sum(len(text) for _, text in texts) // 4 + 1
        return reply, prompt_tokens, len(words), cut

    def _yandex_completion(self, request: dict[str, Any]) -> dict[str, Any]:
        texts = [(m["role"], m["text"]) for m in request["messages"]]
        options = request.get("completionOptions") or {}
        reply, prompt_tokens, completion_tokens, cut = self._reply(
            texts, _positive(options.get("maxTokens"))
        )
        status = "ALTERNATIVE_STATUS_TRUNCATED_FINAL" if cut else "ALTERNATIVE_STATUS_FINAL"
        return {
            "result": {
                "alternatives": [
                    {"message": {"role": "assistant", "text": reply}, "status": status}
                ],
                "usage": {
                    "inputTextTokens": str(prompt_tokens),
                    "completionTokens": str(completion_tokens),
                    "totalTokens": str(prompt_tokens + completion_tokens),
                },
                "modelVersion": YANDEX_MODEL_VERSION,
            }
        }

    def _completion(self, request: dict[str, Any]) -> dict[str, Any]:
        messages = request["messages"]
        texts = [(str(m.get("role")), _text_of(m.get("content"))) for m in messages]
        max_tokens = request.get("max_tokens")
        reply, prompt_tokens, completion_tokens, cut = self._reply(
            texts, max_tokens if isinstance(max_tokens, int) else None
        )
        finish = "length" if cut else "stop"
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
    print(f"YandexGPT base URL: {server.url} (any folder ID)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
