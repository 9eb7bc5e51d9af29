"""Benchmark 4 — web: the task page with 500 comments and the API task list.

gunicorn serves the tracker (`tracker:create_app()`) and, with the same settings, a trivial
Flask app (bench.trivial_app: one route returning a short text), both measured in the same
run with wrk (closed loop: CONNECTIONS connections, DURATION s after a WARMUP s warm-up).
Both gunicorn modes of common.GUNICORN_MODES are measured; the first is the one the other
benchmarks use.

The task page is requested signed in (session cookie from the real login form, CSRF token
included), the API list with a bearer token; both are checked to answer 200 with the
expected content before load is applied.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from typing import Any

import httpx

from .common import (
    GUNICORN_MODES,
    PASSWORD,
    BenchEnv,
    CpuMeter,
    log,
    running,
    start_gunicorn,
    summary,
)

COMMENTS = 500
TASKS = 200
DURATION = 10
WARMUP = 2
CONNECTIONS = 8
WRK_THREADS = 1

# Comment texts like people (and the model) write them: Markdown with emphasis, lists,
# code and links, so the page renders what it would render in use.
TEXTS = [
    "Checked the **printer** again: the tray sensor reports *paper jam* although the tray "
    "is empty. Logs attached below.",
    "Steps so far:\n\n1. Power-cycled the unit\n2. Replaced the toner\n3. Re-seated the "
    "sensor cable\n\nNone of it helped.",
    "Vendor docs: [service manual](https://example.com/manual.pdf), section 4.2 covers the "
    "`E-17` error code.",
    "```\nE-17 tray sensor fault at 10:42\nE-17 tray sensor fault at 10:57\n```\nSame "
    "error twice in fifteen minutes.",
    "Customer called again; they need it working by **Friday**. Escalating to on-site support.",
]


def _seed(env: BenchEnv) -> tuple[int, dict[str, Any]]:
    from tracker.db import new_session
    from tracker.models import Task, User
    from tracker.services import comments, users

    task_ids = env.create_tasks(TASKS)
    page_task = task_ids[0]
    with env.app.app_context(), new_session() as session:
        admin = users.find_by_email(session, env.admin_email)
        other = users.create_user(
            session=session,
            email="bench-member@example.com",
            password=PASSWORD,
            name="Max Member",
            role="member",
        )
        assert isinstance(admin, User)
        task = session.get(Task, page_task)
        assert task is not None
        for number in range(COMMENTS):
            comments.add_comment(
                session=session,
                task=task,
                author=admin if number % 2 == 0 else other,
                text=f"{TEXTS[number % len(TEXTS)]}\n\n(update {number + 1})",
                source="web",
            )
    counts = {
        "comments_on_page_task": COMMENTS,
        "tasks": TASKS,
    }
    return page_task, counts


def _login(url: str, email: str) -> str:
    """Sign in through the form (GET for the CSRF token, POST); return the session cookie."""
    with httpx.Client(base_url=url, timeout=30) as client:
        page = client.get("/login")
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        if match is None:
            match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "no CSRF token on the login page"
        response = client.post(
            "/login",
            data={"csrf_token": match.group(1), "email": email, "password": PASSWORD},
        )
        assert response.status_code == 302, response.text[:500]
        cookie = client.cookies.get("session")
        assert cookie, "no session cookie after signing in"
        return f"session={cookie}"


def _wrk(url: str, headers: dict[str, str], meter: CpuMeter) -> dict[str, Any]:
    args = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    subprocess.run([*args, f"-d{WARMUP}s", url], capture_output=True, text=True, check=True)
    meter.start()  # CPU of the measured run only, not of the warm-up
    out = subprocess.run(
        [*args, f"-d{DURATION}s", url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {}
    for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        latency[f"p{pct}"] = round(float(value) * factor, 2)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "tool": "wrk",
        "rps": rps,
        "latency_ms": latency,
        "requests": requests,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def _pyload(url: str, headers: dict[str, str], meter: CpuMeter) -> dict[str, Any]:
    """Fallback when wrk is missing: CONNECTIONS threads, one keep-alive client each."""
    import threading

    lat: list[float] = []
    bad = 0
    lock = threading.Lock()

    def loop(seconds: float, record: bool) -> None:
        nonlocal bad
        end = time.monotonic() + seconds
        with httpx.Client(headers=headers, timeout=10) as client:
            while time.monotonic() < end:
                t0 = time.perf_counter()
                status = client.get(url).status_code
                if record:
                    with lock:
                        lat.append(time.perf_counter() - t0)
                        bad += status >= 400

    for seconds, record in ((WARMUP, False), (DURATION, True)):
        if record:
            meter.start()
        threads = [
            threading.Thread(target=loop, args=(seconds, record)) for _ in range(CONNECTIONS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    s = summary(lat)
    return {
        "tool": "python threads (wrk not installed)",
        "rps": round(len(lat) / DURATION, 1),
        "latency_ms": {k: round(s[k] * 1000, 2) for k in ("p50", "p90", "p99")},
        "requests": len(lat),
        "non_2xx": bad,
        "socket_errors": "",
    }


def _load(url: str, headers: dict[str, str], meter: CpuMeter) -> dict[str, Any]:
    if shutil.which("wrk"):
        return _wrk(url, headers, meter)
    return _pyload(url, headers, meter)


def _single(url: str, headers: dict[str, str], n: int = 30) -> dict[str, float]:
    """Unloaded latency: n sequential requests after a few warm-up ones."""
    with httpx.Client(headers=headers, timeout=30) as client:
        for _ in range(5):
            client.get(url)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.get(url).raise_for_status()
            times.append(time.perf_counter() - t0)
    s = summary(times)
    return {k: round(s[k] * 1000, 2) for k in ("p50", "p90", "max")}


def run(modes: list[str] | None = None) -> dict[str, Any]:
    modes = modes or list(GUNICORN_MODES)
    results: list[dict[str, Any]] = []
    with BenchEnv() as env:
        page_task, counts = _seed(env)
        for mode in modes:
            tracker, url = start_gunicorn(env, mode=mode)
            trivial, trivial_url = start_gunicorn(env, "bench.trivial_app:app", mode=mode)
            with running(tracker, trivial):
                cookie = _login(url, env.admin_email)
                bearer = {"Authorization": f"Bearer {env.token}"}
                page = httpx.get(f"{url}/tasks/{page_task}", headers={"Cookie": cookie})
                assert page.status_code == 200 and page.text.count("(update ") == COMMENTS, (
                    page.status_code,
                    page.text.count("(update "),
                )
                listing = httpx.get(f"{url}/api/v1/tasks", headers=bearer)
                assert listing.status_code == 200 and len(listing.json()["items"]) == 25
                endpoints = [
                    ("trivial Flask endpoint", f"{trivial_url}/", {}, trivial.pid),
                    (
                        f"task page, {COMMENTS} comments (signed in)",
                        f"{url}/tasks/{page_task}",
                        {"Cookie": cookie},
                        tracker.pid,
                    ),
                    (
                        "API task list, 25 per page (bearer)",
                        f"{url}/api/v1/tasks",
                        bearer,
                        tracker.pid,
                    ),
                ]
                for name, target, headers, pid in endpoints:
                    meter = CpuMeter(server=pid)
                    load = _load(target, headers, meter)
                    cpu = meter.stop()
                    load["server_cpu_ms_per_request"] = round(
                        1000 * cpu["process_cpu_s"]["server"] / max(1, load["requests"]), 2
                    )
                    load["machine_busy_pct"] = cpu["machine_busy_pct"]
                    load["unloaded_latency_ms"] = _single(target, headers)
                    load["bytes"] = len(httpx.get(target, headers=headers).content)
                    results.append({"mode": mode, "endpoint": name, **load})
                    log(
                        f"web [{mode}] {name}: {load['rps']:.0f} req/s, "
                        f"p50 {load['latency_ms'].get('p50')} ms, "
                        f"p99 {load['latency_ms'].get('p99')} ms"
                    )
    return {
        "benchmark": "web",
        "gunicorn_modes": {m: " ".join(GUNICORN_MODES[m]) for m in modes},
        "connections": CONNECTIONS,
        "wrk_duration_s": DURATION,
        "seed": counts,
        "results": results,
    }
