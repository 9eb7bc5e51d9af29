"""Benchmark 3 — LLM client overhead per call, and the connection pool under a burst.

Part A: against the same loopback fake provider (own process, latency 0), the median time
of one chat call for our client (integrations.OpenAICompatible.chat), a bare httpx POST on a
pooled httpx.Client (+ json decoding), and the official openai SDK
(openai.OpenAI(...).chat.completions.create). CALLS calls each, interleaved in ROUNDS so
that drift on a shared machine hits all three alike; ratios are of the medians.

Part B: BURST threads start one chat call each at the same moment against a provider that
takes 2 s (what a worker does with hundreds of slow calls in flight), for our client with
the keep-alive pool it has now and with the keep-alive pool set to the connection limit
(512, the previous setting), and for bare httpx with each setting.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

import integrations as llm
from integrations.openai_compatible import OpenAICompatible

from .common import API_KEY, FakeProvider, log, summary

CALLS = 2000
ROUNDS = 10
WARMUP = 100
BURST = 500
BURST_LATENCY = 2.0
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Summarize: the printer is on fire."}]


def _clients(base_url: str) -> dict[str, Callable[[], Any]]:
    import openai

    ours = OpenAICompatible(
        llm.ProviderConfig(base_url=base_url, api_key=API_KEY, allow_local=True, timeout=30)
    )
    request = llm.ChatRequest(
        model=MODEL, messages=[llm.Message(m["role"], m["content"]) for m in MESSAGES]
    )
    bare = httpx.Client(timeout=30)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = base_url + "/chat/completions"
    sdk = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0, timeout=30)

    def call_ours() -> Any:
        return ours.chat(request).text

    def call_bare() -> Any:
        response = bare.post(url, json={"model": MODEL, "messages": MESSAGES}, headers=headers)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    def call_sdk() -> Any:
        completion = sdk.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        return completion.choices[0].message.content

    return {"ours": call_ours, "bare_httpx": call_bare, "openai_sdk": call_sdk}


def per_call(base_url: str) -> dict[str, Any]:
    import openai

    clients = _clients(base_url)
    for fn in clients.values():
        for _ in range(WARMUP):
            fn()
    times: dict[str, list[float]] = {name: [] for name in clients}
    cpu: dict[str, float] = {name: 0.0 for name in clients}
    per_round = CALLS // ROUNDS
    order = list(clients)
    for round_no in range(ROUNDS):
        for name in order[round_no % 3 :] + order[: round_no % 3]:
            fn = clients[name]
            c0 = time.thread_time()
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
            cpu[name] += time.thread_time() - c0
    medians = {name: statistics.median(v) for name, v in times.items()}
    return {
        "calls_each": CALLS,
        "openai_version": openai.__version__,
        "per_call_us": {
            name: {k: (round(x * 1e6, 1) if k != "n" else x) for k, x in summary(v).items()}
            for name, v in times.items()
        },
        "client_cpu_us_per_call": {name: round(cpu[name] / CALLS * 1e6, 1) for name in cpu},
        "ratios_of_medians": {
            "ours / bare_httpx": round(medians["ours"] / medians["bare_httpx"], 2),
            "openai_sdk / bare_httpx": round(medians["openai_sdk"] / medians["bare_httpx"], 2),
            "ours / openai_sdk": round(medians["ours"] / medians["openai_sdk"], 2),
        },
    }


class _Ours512(OpenAICompatible):
    """Our client with the keep-alive pool as large as the connection limit (before)."""

    keepalive_connections = 512


def _burst_once(call: Callable[[], Any]) -> tuple[float, list[float], list[str]]:
    """BURST threads call `call` once each, released together; (elapsed, latencies, errors)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(BURST + 1)

    def work() -> None:
        barrier.wait()
        t0 = time.monotonic()
        try:
            call()
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(type(exc).__name__)
            return
        with lock:
            latencies.append(time.monotonic() - t0)

    threads = [threading.Thread(target=work) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    barrier.wait()
    t0 = time.monotonic()
    for thread in threads:
        thread.join()
    return time.monotonic() - t0, latencies, errors


def burst(base_url: str) -> list[dict[str, Any]]:
    config = llm.ProviderConfig(base_url=base_url, api_key=API_KEY, allow_local=True, timeout=60)
    request = llm.ChatRequest(model=MODEL, messages=[llm.Message("user", "hi")])
    headers = {"Authorization": f"Bearer {API_KEY}"}
    keepalive_now = min(OpenAICompatible.keepalive_connections, config.pool_max_connections)
    variants: list[tuple[str, int, Callable[[], Callable[[], Any]]]] = []

    def ours(cls: type[OpenAICompatible]) -> Callable[[], Any]:
        provider = cls(config)
        return lambda: provider.chat(request)

    def bare(keepalive: int) -> Callable[[], Any]:
        limits = httpx.Limits(
            max_connections=config.pool_max_connections,
            max_keepalive_connections=keepalive,
            keepalive_expiry=30.0,
        )
        client = httpx.Client(limits=limits, timeout=60)
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        return lambda: client.post(
            base_url + "/chat/completions", json=body, headers=headers
        ).raise_for_status()

    variants = [
        ("ours", keepalive_now, lambda: ours(OpenAICompatible)),
        ("ours", 512, lambda: ours(_Ours512)),
        ("bare_httpx", keepalive_now, lambda: bare(keepalive_now)),
        ("bare_httpx", 512, lambda: bare(512)),
    ]
    out = []
    for name, keepalive, make in variants:
        call = make()
        call()  # open the pool
        elapsed, latencies, errors = _burst_once(call)
        out.append(
            {
                "client": name,
                "max_keepalive_connections": keepalive,
                "calls": BURST,
                "provider_latency_s": BURST_LATENCY,
                "elapsed_s": round(elapsed, 2),
                "call_p50_s": round(statistics.median(latencies), 2) if latencies else None,
                "call_max_s": round(max(latencies), 2) if latencies else None,
                "errors": len(errors),
                "error_kinds": sorted(set(errors)),
            }
        )
        log(
            f"client burst: {name} keepalive={keepalive}: {BURST} calls of "
            f"{BURST_LATENCY:g} s in {elapsed:.2f} s ({len(errors)} errors)"
        )
    return out


def run() -> dict[str, Any]:
    provider = FakeProvider(latency=0.0).start()
    try:
        log(f"client: {CALLS} calls each, ours / bare httpx / openai SDK")
        calls = per_call(provider.base_url)
        r = calls["ratios_of_medians"]
        log(f"client: ratios {r}")
        provider.set_latency(BURST_LATENCY)
        bursts = burst(provider.base_url)
    finally:
        provider.stop()
    return {"benchmark": "client", **calls, "burst": bursts}
