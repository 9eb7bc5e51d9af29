"""The fake OpenAI-compatible server in its own process, driven over stdin/stdout.

Prints ``{"port": N}`` once listening, then answers one JSON line per command line:
``stats`` (max_in_flight, in_flight, chat requests), ``reset`` (forget requests and the
concurrency peak), ``latency <seconds>``, ``quit``.
"""

from __future__ import annotations

import argparse
import json
import sys

from integrations.fake_server import FakeOpenAIServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args()
    server = FakeOpenAIServer(api_key=args.api_key, latency=args.latency).start()
    print(json.dumps({"port": server.port}), flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "stats":
                requests = server.requests
                chat = [r for r in requests if r.path == "/v1/chat/completions"]
                answer = {
                    "max_in_flight": server.max_in_flight,
                    "in_flight": server.in_flight,
                    "chat_requests": len(chat),
                    "first_chat": min((r.time for r in chat), default=None),
                    "last_chat": max((r.time for r in chat), default=None),
                }
            elif words[0] == "reset":
                server.reset()
                answer = {"ok": True}
            elif words[0] == "latency":
                server.latency = float(words[1])
                answer = {"ok": True}
            elif words[0] == "quit":
                print(json.dumps({"ok": True}), flush=True)
                break
            else:
                answer = {"error": f"unknown command {words[0]!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
