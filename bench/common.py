"""Shared plumbing: the bench database and broker, seeding, and the processes under test.

Everything runs on this machine: PostgreSQL on 127.0.0.1:5432 (database ``bench``, created
and dropped here), Redis on 127.0.0.1:6379 (db 12), a fake OpenAI-compatible provider in its
own process (``bench.fakeprov``), the Celery worker as ``manage.py worker`` and the web app
under gunicorn, all on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
PY = sys.executable
VENV_BIN = Path(PY).parent

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
BENCH_DB = os.environ.get("BENCH_DATABASE", "bench")
DATABASE_URL = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{BENCH_DB}"
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")
API_KEY = "sk-bench-0123456789abcdef"
PASSWORD = "bench password 123"

# Tracker settings a caller's shell might export; the processes under test must see the
# embedded defaults (plus what a benchmark sets on purpose), never a leftover from a shell.
_TRACKER_ENV = (
    "WORKER_CONCURRENCY",
    "ALLOW_LOCAL_ENDPOINTS",
    "RUN_REQUEUE_AFTER",
    "SWEEP_INTERVAL",
    "RUN_SOFT_TIME_LIMIT",
    "LLM_DEADLINE",
    "RUN_LEASE",
    "RUN_MAX_JOB_ATTEMPTS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "TRACKER_VAR_DIR",
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    data = sorted(values)
    if not data:
        return float("nan")
    rank = max(1, min(len(data), int(-(-p * len(data) // 100))))
    return data[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "min": min(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


# ---- the machine ---------------------------------------------------------------------------


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def pytest_running() -> list[str]:
    """Command lines of pytest processes on the machine (other engineers' test runs)."""
    out = _run(["pgrep", "-af", "pytest"])
    mine = {str(os.getpid()), str(os.getppid())}
    return [line for line in out.splitlines() if line and line.split()[0] not in mine]


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    os_name = ""
    with contextlib.suppress(OSError):
        match = re.search(r'PRETTY_NAME="([^"]+)"', Path("/etc/os-release").read_text())
        os_name = match.group(1) if match else ""
    import celery
    import flask
    import httpx
    import kombu
    import sqlalchemy

    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": os_name or platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": _run(["psql", "-h", PG_HOST, "-U", PG_USER, "-tAc", "show server_version"]),
        "redis": _redis_version(),
        "wrk": _run(["wrk", "--version"]).splitlines()[0] if shutil.which("wrk") else "",
        "versions": {
            "flask": flask.__version__ if hasattr(flask, "__version__") else "",
            "celery": celery.__version__,
            "kombu": kombu.__version__,
            "sqlalchemy": sqlalchemy.__version__,
            "httpx": httpx.__version__,
        },
    }


def _redis_version() -> str:
    import redis

    try:
        info = redis.Redis.from_url(BROKER_URL).info("server")
        return str(info.get("redis_version", ""))
    except Exception:  # noqa: BLE001
        return ""


def load_snapshot() -> dict[str, Any]:
    return {
        "loadavg": [round(x, 2) for x in loadavg()],
        "pytest_processes": len(pytest_running()),
    }


def wait_until_quiet(max_wait: float, max_load: float = 0.7) -> dict[str, Any]:
    """Wait (up to max_wait s) until no pytest runs and the 1-minute load is below max_load."""
    started = time.monotonic()
    while True:
        tests = pytest_running()
        load1 = loadavg()[0]
        if not tests and load1 < max_load:
            break
        waited = time.monotonic() - started
        if waited >= max_wait:
            log(f"machine still busy after {waited:.0f} s (load {load1:.2f}, pytest: {len(tests)})")
            break
        log(f"machine busy (load {load1:.2f}, {len(tests)} pytest process(es)); waiting")
        time.sleep(min(20.0, max(1.0, max_wait - waited)))
    return {
        "waited_s": round(time.monotonic() - started, 1),
        "loadavg": [round(x, 2) for x in loadavg()],
        "pytest_processes": len(pytest_running()),
    }


# ---- CPU accounting ------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU seconds of `pid` (and its live descendants)."""
    total = 0.0
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICK
    if tree:
        for child in _children(pid):
            total += cpu_seconds(child, tree=True)
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


class CpuMeter:
    """CPU used by some processes and by the whole machine between start() and stop()."""

    def __init__(self, **pids: int) -> None:
        self.pids = pids

    def start(self) -> CpuMeter:
        self._t = time.monotonic()
        self._machine = machine_cpu()
        self._procs = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, Any]:
        wall = time.monotonic() - self._t
        busy, total = machine_cpu()
        used = {
            name: round(cpu_seconds(pid) - before, 2)
            for name, (pid, before) in ((n, (self.pids[n], b)) for n, b in self._procs.items())
        }
        return {
            "wall_s": round(wall, 2),
            "process_cpu_s": used,
            "machine_busy_pct": round(
                100 * (busy - self._machine[0]) / max(1.0, total - self._machine[1]), 1
            ),
        }


class Profiler:
    """py-spy record of one process (raw collapsed stacks), if py-spy is installed."""

    def __init__(self, pid: int, path: Path, rate: int = 250, gil: bool = True) -> None:
        # --gil: only the thread holding the GIL is sampled, so shares are shares of the
        # process's Python CPU time (what limits a threads-pool worker), not of waiting.
        self.pid, self.path, self.rate, self.gil = pid, path, rate, gil
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Profiler:
        exe = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
        if exe is None:
            log("py-spy not installed; no profile")
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "-p",
                str(self.pid),
                "-r",
                str(self.rate),
                "-f",
                "raw",
                "-o",
                str(self.path),
                "--nonblocking",
                *(["--gil"] if self.gil else []),
                *(["--threads"] if os.environ.get("BENCH_PROFILE_THREADS") else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        return self

    def stop(self) -> Path | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        return self.path if self.path.exists() else None


def profile_summary(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive shares of the busiest frames of a py-spy raw profile."""
    import collections

    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n

    def share(counter: collections.Counter[str]) -> list[tuple[float, str]]:
        return [(round(100 * n / max(1, total), 1), f) for f, n in counter.most_common(top)]

    # The same, per function (line numbers dropped), for the app's own code.
    funcs: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        names = {
            re.sub(r":\d+\)$", ")", f)
            for f in stack.split(";")
            if "tracker/" in f or "integrations/" in f
        }
        for name in names:
            funcs[name] += int(count)
    return {
        "samples": total,
        "self": share(own),
        "inclusive": share(incl),
        "app_functions": share(funcs),
    }


# ---- database and broker -------------------------------------------------------------------


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    )


def create_database() -> None:
    """(Re)create the dedicated bench database and apply the migrations."""
    from tracker.migrate import upgrade

    drop_database()
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    upgrade(DATABASE_URL)


def drop_database() -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- processes -----------------------------------------------------------------------------


def base_env(var_dir: str, secret: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _TRACKER_ENV}
    env.update(
        {
            "DATABASE_URL": DATABASE_URL,
            "CELERY_BROKER_URL": BROKER_URL,
            "SECRET_KEY": secret,
            "TRACKER_VAR_DIR": var_dir,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra or {})
    return env


class Proc:
    """A subprocess with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-4000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start:\n{self.output()[-4000:]}")

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.proc = None


class FakeProvider:
    """integrations.fake_server in its own process (bench.fakeprov), so that its threads do
    not share a GIL with the driver; queried over stdin/stdout for max_in_flight."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self._lock = threading.Lock()

    def start(self) -> FakeProvider:
        self.proc = subprocess.Popen(
            [PY, "-m", "bench.fakeprov", "--latency", str(self.latency), "--api-key", API_KEY],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout is not None
        self.port = int(json.loads(self.proc.stdout.readline())["port"])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        with self._lock:  # one question, one answer: never interleave two threads' lines
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self.command("stats")

    def reset(self) -> None:
        self.command("reset")

    def set_latency(self, seconds: float) -> None:
        self.command(f"latency {seconds}")
        self.latency = seconds

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            self.command("quit")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def start_worker(
    env: BenchEnv,
    extra_env: dict[str, str] | None = None,
    tag: str = "",
    args: Sequence[str] = (),
) -> Proc:
    """`python manage.py worker` exactly as the README runs it (defaults unless extra_env)."""
    name = f"worker{('-' + tag) if tag else ''}"
    proc = Proc(
        name,
        [PY, str(ROOT / "manage.py"), "worker", *args],
        base_env(env.var_dir, env.secret, extra_env),
        Path(env.var_dir) / f"{name}.log",
    ).start()
    proc.wait_for_log(" ready.")
    return proc


GUNICORN_MODES = {
    # 2 cores: 4 single-threaded processes (2 x cores, gunicorn's usual advice).
    "sync-w4": ["-w", "4"],
    # 2 processes x 4 threads: the GIL makes threads useful only while waiting on I/O.
    "gthread-w2-t4": ["-w", "2", "--threads", "4", "-k", "gthread"],
}
DEFAULT_GUNICORN = "sync-w4"


def start_gunicorn(
    env: BenchEnv, app_spec: str = "tracker:create_app()", mode: str = DEFAULT_GUNICORN
) -> tuple[Proc, str]:
    port = free_port()
    tag = re.sub(r"\W+", "-", app_spec).strip("-")
    proc = Proc(
        f"gunicorn-{tag}-{mode}",
        [
            str(VENV_BIN / "gunicorn"),
            *GUNICORN_MODES[mode],
            "-b",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            app_spec,
        ],
        base_env(env.var_dir, env.secret),
        Path(env.var_dir) / f"gunicorn-{tag}-{mode}.log",
    ).start()
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/login" if app_spec.startswith("tracker") else url + "/", timeout=2)
            break
        except httpx.HTTPError:
            if proc.proc is not None and proc.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{proc.output()[-4000:]}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{proc.output()[-4000:]}") from None
            time.sleep(0.1)
    return proc, url


# ---- the bench workspace -------------------------------------------------------------------


class BenchEnv:
    """A fresh bench database + Redis db, an app bound to them, and a seeded workspace:
    an admin with an API token, a process, a template, and (with a provider URL) the
    "Request to ChatGPT" scenario wired to an OpenAI-compatible integration."""

    def __init__(self, provider_base_url: str | None = None, timeout_seconds: float = 60) -> None:
        self.provider_base_url = provider_base_url
        self.timeout_seconds = timeout_seconds
        self.var_dir = tempfile.mkdtemp(prefix="tracker-bench-")
        self.secret = secrets.token_urlsafe(32)
        self.app: Any = None
        self.token = ""
        self.template_id = 0
        self.admin_email = "bench-admin@example.com"

    def __enter__(self) -> BenchEnv:
        create_database()
        flush_broker()
        from tracker import create_app

        self.app = create_app(
            {
                "VAR_DIR": self.var_dir,
                "SECRET_KEY": self.secret,
                "DATABASE_URL": DATABASE_URL,
                "CELERY_BROKER_URL": BROKER_URL,
            }
        )
        self._seed()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.app is not None:
            self.app.extensions["engine"].dispose()
            with contextlib.suppress(Exception):
                self.app.extensions["celery"].pool.force_close_all()
        with contextlib.suppress(Exception):
            drop_database()
        with contextlib.suppress(Exception):
            flush_broker()
        if os.environ.get("BENCH_KEEP_LOGS") or (exc and exc[0] is not None):
            log(f"logs kept in {self.var_dir}")
        else:
            shutil.rmtree(self.var_dir, ignore_errors=True)

    # -- seeding through the services and the API (Flask test client, in-process)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        client = self.app.test_client()
        response = client.open(
            "/api/v1" + path,
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data()!r}")
        return response.get_json()

    def _seed(self) -> None:
        from tracker.db import new_session
        from tracker.services import users

        with self.app.app_context(), new_session() as session:
            admin = users.create_user(
                session=session,
                email=self.admin_email,
                password=PASSWORD,
                name="Bench Admin",
                role="admin",
            )
            self.token = users.create_token(session=session, user=admin, name="bench")[1]
        process = self.api(
            "POST",
            "/processes",
            {
                "name": "Support",
                "statuses": [
                    {"name": "Open", "is_initial": True},
                    {"name": "Doing"},
                    {"name": "Closed", "is_final": True},
                ],
            },
        )
        template = self.api(
            "POST",
            "/templates",
            {"name": "Request", "process_id": process["id"], "default_title": "Request"},
        )
        self.template_id = template["id"]
        if self.provider_base_url:
            integration = self.api(
                "POST",
                "/integrations",
                {
                    "name": "Fake OpenAI",
                    "kind": "openai",
                    "base_url": self.provider_base_url,
                    "api_key": API_KEY,
                    "default_model": "gpt-4o-mini",
                    "timeout_seconds": self.timeout_seconds,
                },
            )
            self.api(
                "POST",
                "/configurations/request-to-chatgpt",
                {"template_id": self.template_id, "integration_id": integration["id"]},
            )

    def create_tasks(self, count: int, title: str = "Bench task") -> list[int]:
        from tracker.db import new_session
        from tracker.models import User
        from tracker.services import tasks, users

        ids = []
        with self.app.app_context(), new_session() as session:
            admin = users.find_by_email(session, self.admin_email)
            assert isinstance(admin, User)
            for number in range(count):
                task = tasks.create_task(
                    session=session,
                    author=admin,
                    template_id=self.template_id,
                    title=f"{title} {number + 1}",
                    description="Customer reports that the **printer** is on fire.",
                )
                ids.append(task.id)
        return ids

    def sql(self, query: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        with self.app.extensions["engine"].connect() as conn:
            return list(conn.execute(text(query), params))


@contextlib.contextmanager
def running(*procs: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.stop()


def save_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def load_result(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]
