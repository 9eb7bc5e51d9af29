"""Benchmark 1 — slow providers.

500 `/chatgpt` commands are posted through the API of the real web app (gunicorn, see
common.GUNICORN_MODES) on 500 tasks, while one worker host (`manage.py worker`, default
settings) answers them from a fake OpenAI-compatible provider that takes 2 s per call.

Measured: the enqueue time (first POST sent -> last 201 received), the time to the last
reply (first POST sent -> the last bot comment's created_at), the ideal (enqueue time +
provider latency: every call started the moment its command was posted), their ratio, and
the provider's peak number of calls in flight. Target: ratio <= 1.5, peak >= 200.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import redis

from .common import (
    BROKER_URL,
    DEFAULT_GUNICORN,
    RESULTS_DIR,
    BenchEnv,
    CpuMeter,
    FakeProvider,
    Profiler,
    log,
    profile_summary,
    running,
    start_gunicorn,
    start_worker,
    summary,
)

COMMANDS = 500
LATENCY = 2.0
POSTERS = 8  # client threads posting commands (gunicorn has 4 processes)
REPEATS = 3  # runs of every configuration; the report quotes the median one
TARGET_RATIO = 1.5
TARGET_IN_FLIGHT = 200

# (label, environment of each worker process, number of `manage.py worker` processes)
DEFAULT_CONFIGS: list[tuple[str, dict[str, str], int]] = [
    ("defaults", {}, 1),
    ("WORKER_CONCURRENCY=64 (previous default)", {"WORKER_CONCURRENCY": "64"}, 1),
    ("2 worker processes, defaults each (second --no-beat)", {}, 2),
]


def _post_all(url: str, token: str, task_ids: list[int]) -> list[tuple[float, float, int, int]]:
    """POST one command per task from POSTERS threads; (sent, answered, status) per POST."""
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
        return local.client  # type: ignore[no-any-return]

    def post(task_id: int) -> tuple[float, float, int, int]:
        sent = time.time()
        response = client().post(
            f"/api/v1/tasks/{task_id}/comments",
            json={"text": f"/chatgpt summarize task {task_id} for the customer"},
        )
        answered = time.time()
        comment_id = response.json().get("id", 0) if response.status_code == 201 else 0
        return sent, answered, response.status_code, comment_id

    with ThreadPoolExecutor(POSTERS) as pool:
        return list(pool.map(post, task_ids))


class _ThreadStates:
    """Diagnostics (BENCH_DUMPS=1): what the worker's threads are doing, once a second.

    `py-spy dump` of all threads; each thread is classed by the innermost frame that says
    what it waits for. Returns, per sample, the count of threads in each state.
    """

    STATES = (
        ("QueuePool", "waiting for a DB pool connection"),
        ("psycopg", "in PostgreSQL I/O or driver"),
        ("httpcore", "in the LLM HTTP call"),
        ("thread.py", "idle pool thread"),
        ("sqlalchemy", "SQLAlchemy (Python)"),
    )

    def __init__(self, pid: int) -> None:
        import shutil

        self.pid = pid
        self.exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        self.samples: list[dict[str, int]] = []
        self.main: list[list[str]] = []  # the consumer (main thread): its innermost frames
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import subprocess
        from collections import Counter

        while not self._stop.wait(1.0):
            out = subprocess.run(
                [self.exe, "dump", "--pid", str(self.pid), "--nonblocking"],
                capture_output=True,
                text=True,
            ).stdout
            counts: Counter[str] = Counter()
            for block in out.split("\nThread ")[1:]:
                frames = block.splitlines()[1:]
                if "MainThread" in block.splitlines()[0]:
                    self.main.append([f.strip() for f in frames[:4]])
                state = "other"
                for frame in frames:  # innermost first
                    hit = next((name for key, name in self.STATES if key in frame), None)
                    if hit:
                        state = hit
                        break
                counts[state] += 1
            self.samples.append(dict(counts))

    def stop(self) -> list[dict[str, int]]:
        self._stop.set()
        self._thread.join()
        return self.samples


def run_one(
    label: str, worker_env: dict[str, str], processes: int = 1, commands: int = COMMANDS
) -> dict[str, Any]:
    provider = FakeProvider(latency=LATENCY).start()
    try:
        with BenchEnv(provider.base_url) as env:
            task_ids = env.create_tasks(commands)
            web, url = start_gunicorn(env)
            worker = start_worker(env, worker_env)
            extra = [
                start_worker(env, worker_env, tag=str(n + 2), args=["--no-beat"])
                for n in range(processes - 1)
            ]
            with running(worker, *extra, web):
                provider.reset()
                samples: list[tuple[float, int, int, int]] = []
                stop = threading.Event()
                broker = redis.Redis.from_url(BROKER_URL)
                redis_uptime = int(broker.info("server")["uptime_in_seconds"])
                started = time.monotonic()

                def sample() -> None:
                    # calls at the provider; messages waiting in Redis; messages the worker
                    # has taken but not acknowledged (reserved or running: acks_late)
                    while not stop.is_set():
                        in_flight = int(provider.stats()["in_flight"])
                        waiting, taken = broker.llen("tracker"), broker.hlen("unacked")
                        samples.append((time.time(), in_flight, int(waiting), int(taken)))
                        time.sleep(0.1)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                meter = CpuMeter(
                    worker=worker.pid,
                    gunicorn=web.pid,
                    **{f"worker{n + 2}": w.pid for n, w in enumerate(extra)},
                ).start()
                profiler = (
                    Profiler(
                        worker.pid,
                        RESULTS_DIR
                        / f"slow-worker-{worker_env.get('WORKER_CONCURRENCY', 'default')}.pyspy",
                    ).start()
                    if os.environ.get("BENCH_PROFILE")
                    else None
                )
                dumper = _ThreadStates(worker.pid) if os.environ.get("BENCH_DUMPS") else None
                log(f"slow [{label}]: posting {commands} commands")
                posts = _post_all(url, env.token, task_ids)
                first_sent = min(p[0] for p in posts)
                last_answered = max(p[1] for p in posts)
                bad = [p for p in posts if p[2] != 201]
                deadline = time.monotonic() + 300
                replies = 0
                while time.monotonic() < deadline:
                    replies = env.sql("select count(*) from comment where source = 'automation'")[
                        0
                    ][0]
                    if replies >= commands:
                        break
                    time.sleep(0.2)
                cpu = meter.stop()
                profile = profiler.stop() if profiler else None
                thread_states = dumper.stop() if dumper else None
                stop.set()
                sampler.join()
                stats = provider.stats()
                rows = env.sql(
                    """select extract(epoch from c.created_at), c.is_error,
                              extract(epoch from r.started_at), r.attempts, r.latency_ms,
                              extract(epoch from r.created_at), r.comment_id
                       from comment c join run r on r.id = c.run_id
                       where c.source = 'automation'"""
                )
                statuses = dict(env.sql("select status, count(*) from run group by status"))
                # A Redis restarted during the run (another engineer's reliability test on
                # the shared server) makes the run meaningless: say so in the result.
                redis_restarted = int(broker.info("server")["uptime_in_seconds"]) < (
                    redis_uptime + time.monotonic() - started - 5
                )
                worker_log = worker.output()
        enqueue_s = last_answered - first_sent
        reply_at = [float(r[0]) for r in rows]
        last_reply = max(reply_at) if reply_at else float("nan")
        to_last = last_reply - first_sent
        ideal = enqueue_s + LATENCY
        waits = [float(r[2]) - float(r[5]) for r in rows if r[2] is not None]
        answered = {p[3]: p[1] for p in posts}
        # 201 received by the client -> run claimed by the worker: broker + consumer delay.
        pickup = [
            float(r[2]) - answered[r[6]] for r in rows if r[2] is not None and r[6] in answered
        ]
        banner = re.search(r"concurrency:\s*(\d+)", worker_log)
        result = {
            "label": label,
            "worker_concurrency": int(banner.group(1)) if banner else None,
            "worker_env": worker_env,
            "commands": commands,
            "provider_latency_s": LATENCY,
            "posters": POSTERS,
            "gunicorn": DEFAULT_GUNICORN,
            "post_errors": len(bad),
            "replies": len(rows),
            "error_replies": sum(1 for r in rows if r[1]),
            "run_statuses": statuses,
            "redelivered_runs": sum(1 for r in rows if (r[3] or 0) > 1),
            "enqueue_s": round(enqueue_s, 3),
            "posts_per_s": round(commands / enqueue_s, 1),
            "time_to_last_reply_s": round(to_last, 3),
            "ideal_s": round(ideal, 3),
            "ratio": round(to_last / ideal, 3),
            "max_in_flight": stats["max_in_flight"],
            "chat_requests": stats["chat_requests"],
            "reply_after_post_s": summary([t - first_sent for t in reply_at]) if rows else {},
            "queue_wait_s": summary(waits) if waits else {},
            "post_answered_to_claim_s": summary(pickup) if pickup else {},
            "post_latency_s": summary([p[1] - p[0] for p in posts]),
            "llm_latency_ms": summary([float(r[4]) for r in rows if r[4] is not None])
            if rows
            else {},
            "in_flight_timeline": [
                [round(t - first_sent, 2), n, q, u]
                for t, n, q, u in samples
                if t >= first_sent - 0.5
            ],
            "max_redis_queue": max((q for _, _, q, _ in samples), default=0),
            "max_taken_by_worker": max((u for _, _, _, u in samples), default=0),
            "redis_restarted": redis_restarted,
            "worker_log_errors": [
                line for line in worker_log.splitlines() if "ERROR" in line or "Traceback" in line
            ][:20],
            "cpu": cpu,
            "worker_processes": processes,
            "worker_cpu_ms_per_command": round(
                1000
                * sum(v for k, v in cpu["process_cpu_s"].items() if k.startswith("worker"))
                / commands,
                1,
            ),
            "web_cpu_ms_per_post": round(1000 * cpu["process_cpu_s"]["gunicorn"] / commands, 1),
            "profile": profile_summary(profile) if profile else None,
            "thread_states": thread_states,
            "ok_ratio": to_last / ideal <= TARGET_RATIO,
            "ok_in_flight": stats["max_in_flight"] >= TARGET_IN_FLIGHT,
        }
        log(
            f"slow [{label}]: enqueue {enqueue_s:.2f} s, last reply {to_last:.2f} s, "
            f"ideal {ideal:.2f} s, ratio {to_last / ideal:.2f}, "
            f"peak in flight {stats['max_in_flight']}, replies {len(rows)} "
            f"({result['error_replies']} errors)"
        )
        return result
    finally:
        provider.stop()


def run(configs: list[tuple[str, dict[str, str], int]] | None = None) -> dict[str, Any]:
    from tracker.config import load_settings

    defaults = load_settings({"SECRET_KEY": "x"})
    results = []
    # Rounds rather than repeats in a row: each configuration sees the machine's drift alike.
    for repeat in range(REPEATS):
        for label, env, n in configs or DEFAULT_CONFIGS:
            result = run_one(label, env, n)
            result["repeat"] = repeat + 1
            results.append(result)
    return {
        "benchmark": "slow",
        "repeats": REPEATS,
        "default_worker_concurrency": defaults["WORKER_CONCURRENCY"],
        "targets": {"ratio": TARGET_RATIO, "max_in_flight": TARGET_IN_FLIGHT},
        "runs": results,
    }
