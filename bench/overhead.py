"""Benchmark 2 — overhead of one `/chatgpt` command, provider time excluded.

The fake provider answers at once (latency 0). Commands are posted through the API of the
real web app (gunicorn) one at a time at a steady RATE per second (open loop, so a slow
reply never delays the next post), one command per task, to a worker with default settings.

Per command: overhead = reply committed (the bot comment's created_at, set in the worker
just before its commit) - the client's POST send time - the run's latency_ms (the LLM call
as timed by our client: the fake server's handling plus loopback HTTP). Target: p50 <= 30 ms,
p99 <= 150 ms. The per-phase breakdown comes from the timestamps the app records itself
(comment.created_at and run.created_at in the web process, run.started_at at claim,
run.finished_at at the end), and a second, profiled pass gives the worker's CPU profile.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from .common import (
    RESULTS_DIR,
    BenchEnv,
    CpuMeter,
    FakeProvider,
    Proc,
    Profiler,
    log,
    profile_summary,
    running,
    start_gunicorn,
    start_worker,
    summary,
)

COMMANDS = 300
WARMUP = 20
PROFILED = 150
RATE = 10.0  # commands per second
TARGET_P50_MS = 30.0
TARGET_P99_MS = 150.0


def _post_at_rate(
    client: httpx.Client, task_ids: list[int], rate: float
) -> list[tuple[float, float, int]]:
    """One command per task, one every 1/rate s; (sent, answered, comment id) each."""
    out = []
    start = time.monotonic()
    for number, task_id in enumerate(task_ids):
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent = time.time()
        response = client.post(
            f"/api/v1/tasks/{task_id}/comments",
            json={"text": f"/chatgpt what should I check first on task {task_id}?"},
        )
        answered = time.time()
        response.raise_for_status()
        out.append((sent, answered, int(response.json()["id"])))
    return out


def _wait_replies(env: BenchEnv, count: int, worker: Proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if env.sql("select count(*) from comment where source = 'automation'")[0][0] >= count:
            return
        if worker.proc is None or worker.proc.poll() is not None:
            code = worker.proc.returncode if worker.proc else None
            raise RuntimeError(f"the worker exited ({code}):\n{worker.output()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"only some of {count} replies arrived within {timeout} s")


def _ms(values: list[float]) -> dict[str, float]:
    return {k: (round(v * 1000, 1) if k != "n" else v) for k, v in summary(values).items()}


def run() -> dict[str, Any]:
    provider = FakeProvider(latency=0.0).start()
    try:
        with BenchEnv(provider.base_url) as env:
            task_ids = env.create_tasks(WARMUP + COMMANDS + PROFILED)
            web, url = start_gunicorn(env)
            worker = start_worker(env)
            with (
                running(worker, web),
                httpx.Client(
                    base_url=url, headers={"Authorization": f"Bearer {env.token}"}, timeout=30
                ) as client,
            ):
                log(f"overhead: {WARMUP} warm-up commands")
                _post_at_rate(client, task_ids[:WARMUP], RATE)
                _wait_replies(env, WARMUP, worker)
                measured_ids = task_ids[WARMUP : WARMUP + COMMANDS]
                log(f"overhead: {COMMANDS} commands at {RATE:g}/s")
                meter = CpuMeter(worker=worker.pid, gunicorn=web.pid).start()
                posts = _post_at_rate(client, measured_ids, RATE)
                _wait_replies(env, WARMUP + COMMANDS, worker)
                cpu = meter.stop()
                rows = env.sql(
                    """select t.id, extract(epoch from t.created_at),
                              extract(epoch from r.created_at),
                              extract(epoch from r.started_at), r.latency_ms,
                              extract(epoch from b.created_at), extract(epoch from r.finished_at),
                              b.is_error
                       from comment t join run r on r.comment_id = t.id
                       join comment b on b.run_id = r.id and b.source = 'automation'
                       where t.id = any(:ids)""",
                    ids=[p[2] for p in posts],
                )
                profile = None
                if PROFILED and os.environ.get("BENCH_NO_PROFILE") is None:
                    log(f"overhead: {PROFILED} more commands with py-spy on the worker")
                    profiler = Profiler(worker.pid, RESULTS_DIR / "overhead-worker.pyspy").start()
                    _post_at_rate(client, task_ids[WARMUP + COMMANDS :], RATE)
                    _wait_replies(env, WARMUP + COMMANDS + PROFILED, worker)
                    path = profiler.stop()
                    profile = profile_summary(path, top=30) if path else None
        by_comment = {int(r[0]): r for r in rows}
        total, overhead, llm = [], [], []
        to_comment, post_rtt, answered_to_claim, claim_to_reply, reply_to_done = [], [], [], [], []
        errors = 0
        for sent, answered, comment_id in posts:
            r = by_comment.get(comment_id)
            if r is None:
                continue
            (_, comment_at, _run_at, started, latency_ms, reply_at, finished, is_error) = r
            errors += bool(is_error)
            latency = (latency_ms or 0) / 1000
            total.append(float(reply_at) - sent)
            overhead.append(float(reply_at) - sent - latency)
            llm.append(latency)
            post_rtt.append(answered - sent)
            to_comment.append(float(comment_at) - sent)
            answered_to_claim.append(float(started) - answered)
            claim_to_reply.append(float(reply_at) - float(started) - latency)
            reply_to_done.append(float(finished) - float(reply_at))
        o = _ms(overhead)
        result = {
            "benchmark": "overhead",
            "commands": len(overhead),
            "rate_per_s": RATE,
            "error_replies": errors,
            "overhead_ms": o,
            "total_ms": _ms(total),
            "llm_latency_ms": _ms(llm),
            "phases_ms": {
                "POST sent -> comment row built (web, before its commit)": _ms(to_comment),
                "POST sent -> 201 received (web request incl. commit + publish)": _ms(post_rtt),
                "201 received -> run claimed (broker + worker pickup + claim)": _ms(
                    answered_to_claim
                ),
                "run claimed -> reply built, LLM call excluded (load, 1 commit, render)": _ms(
                    claim_to_reply
                ),
                "reply built -> run finished (reply, result and 'done' in one commit)": _ms(
                    reply_to_done
                ),
            },
            "cpu": cpu,
            "worker_cpu_ms_per_command": round(1000 * cpu["process_cpu_s"]["worker"] / COMMANDS, 1),
            "web_cpu_ms_per_post": round(1000 * cpu["process_cpu_s"]["gunicorn"] / COMMANDS, 1),
            "profile": profile,
            "targets_ms": {"p50": TARGET_P50_MS, "p99": TARGET_P99_MS},
            "ok_p50": o["p50"] <= TARGET_P50_MS,
            "ok_p99": o["p99"] <= TARGET_P99_MS,
        }
        log(
            f"overhead: p50 {o['p50']} ms, p99 {o['p99']} ms "
            f"(targets {TARGET_P50_MS:g} / {TARGET_P99_MS:g} ms), {errors} error replies"
        )
        return result
    finally:
        provider.stop()
