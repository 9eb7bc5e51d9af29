"""Regenerate bench/REPORT.md from bench/results/*.json.

The numbers come from the result files; the analysis around them is written here, next to
the code that formats the tables, so that a re-run changes the figures and keeps the text.
Figures the prose quotes are read from the results too, so text and tables cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import BENCH_DIR, load_result

REPORT = BENCH_DIR / "REPORT.md"


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ok(flag: Any) -> str:
    return "**met**" if flag else "**missed**"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _when(result: dict[str, Any]) -> str:
    before = result.get("load_before") or {}
    after = result.get("load_after") or {}
    return (
        f"run {result.get('started_at', '?')} in {result.get('duration_s', '?')} s; "
        f"load average before {before.get('loadavg', '?')} "
        f"(waited {before.get('waited_s', 0)} s for a quiet machine, "
        f"{before.get('pytest_processes', '?')} pytest processes), "
        f"after {after.get('loadavg', '?')}"
    )


def _machine(results: list[dict[str, Any]]) -> str:
    m = next((r["machine"] for r in results if r and r.get("machine")), None)
    if not m:
        return "(no results yet)"
    v = m.get("versions", {})
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']} (kernel "
        f"{m['kernel']}); Python {m['python']}; PostgreSQL {m['postgresql']} and Redis "
        f"{m['redis']} on 127.0.0.1 (PostgreSQL max_connections 100); "
        f"{m['wrk'].split(' [')[0] or 'no wrk'}; "
        f"celery {v.get('celery')}, kombu {v.get('kombu')}, SQLAlchemy {v.get('sqlalchemy')}, "
        f"httpx {v.get('httpx')}"
    )


# ---- sections ------------------------------------------------------------------------------


def _summary(slow: Any, over: Any, client: Any, web: Any) -> str:
    rows: list[list[Any]] = []
    if slow:
        from .analysis import _run, _spread

        d = _run(slow, "defaults") or slow["runs"][0]
        many = len([r for r in slow["runs"] if r["label"] == d["label"]]) > 1
        rows.append(
            [
                "1 slow providers: 500 × 2 s, time to last reply (defaults"
                + (", median run" if many else "")
                + ")",
                f"{d['time_to_last_reply_s']:.2f} s",
                f"ideal {d['ideal_s']:.2f} s (enqueue {d['enqueue_s']:.2f} s + 2 s): "
                f"ratio {d['ratio']:.2f}"
                + (f" (all runs: {_spread(slow, d['label'], 'ratio')})" if many else ""),
                "≤ 1.5 × ideal",
                _ok(d["ok_ratio"]),
            ]
        )
        rows.append(
            [
                "1 slow providers: peak calls in flight",
                d["max_in_flight"],
                f"{d['commands']} commands; worker concurrency {d['worker_concurrency']}"
                + (
                    f" (all runs: {_spread(slow, d['label'], 'max_in_flight', '{}')})"
                    if many
                    else ""
                ),
                "≥ 200",
                _ok(d["ok_in_flight"]),
            ]
        )
    if over:
        o = over["overhead_ms"]
        rows.append(
            [
                "2 overhead p50 (POST → reply committed − LLM call)",
                f"{o['p50']} ms",
                f"total p50 {over['total_ms']['p50']} ms, LLM call p50 "
                f"{over['llm_latency_ms']['p50']} ms",
                "≤ 30 ms",
                _ok(over["ok_p50"]),
            ]
        )
        rows.append(
            [
                "2 overhead p99",
                f"{o['p99']} ms",
                f"total p99 {over['total_ms']['p99']} ms",
                "≤ 150 ms",
                _ok(over["ok_p99"]),
            ]
        )
    if client:
        r = client["ratios_of_medians"]
        p = client["per_call_us"]
        rows.append(
            [
                "3 client: our client / bare httpx (median per call)",
                f"{r['ours / bare_httpx']:.2f}×",
                f"{p['ours']['p50']} µs vs {p['bare_httpx']['p50']} µs",
                "–",
                "–",
            ]
        )
        rows.append(
            [
                "3 client: openai SDK / bare httpx",
                f"{r['openai_sdk / bare_httpx']:.2f}×",
                f"{p['openai_sdk']['p50']} µs vs {p['bare_httpx']['p50']} µs",
                "–",
                "–",
            ]
        )
    if web:
        first = web["results"][0]["mode"]
        for item in web["results"]:
            if item["mode"] != first or item["endpoint"].startswith("trivial"):
                continue
            base = next(
                x
                for x in web["results"]
                if x["mode"] == first and x["endpoint"].startswith("trivial")
            )
            rows.append(
                [
                    f"4 web ({first}): {item['endpoint']}",
                    f"{item['rps']:.0f} req/s, p50 {item['latency_ms'].get('p50')} ms",
                    f"trivial Flask endpoint {base['rps']:.0f} req/s "
                    f"({item['rps'] / base['rps'] * 100:.1f} %)",
                    "–",
                    "–",
                ]
            )
    return _table(["benchmark", "figure", "compared to (same run)", "target", ""], rows)


def _slow(slow: dict[str, Any]) -> str:
    rows = []
    for r in slow["runs"]:
        rows.append(
            [
                r["label"] + (f" (run {r['repeat']})" if slow.get("repeats", 1) > 1 else ""),
                r["worker_concurrency"],
                f"{r['enqueue_s']:.2f}",
                f"{r['time_to_last_reply_s']:.2f}",
                f"{r['ideal_s']:.2f}",
                f"{r['ratio']:.2f}",
                r["max_in_flight"],
                f"{r['post_answered_to_claim_s'].get('p50', 0):.2f} / "
                f"{r['post_answered_to_claim_s'].get('max', 0):.2f}",
                f"{r['llm_latency_ms']['p50']:.0f} / {r['llm_latency_ms']['max']:.0f}",
                r["worker_cpu_ms_per_command"],
                r["web_cpu_ms_per_post"],
                r.get("max_redis_queue", "–"),
                r["cpu"]["machine_busy_pct"],
                f"{r['replies']} ({r['error_replies']})"
                + (" **Redis restarted during the run**" if r.get("redis_restarted") else ""),
            ]
        )
    table = _table(
        [
            "worker settings",
            "threads",
            "enqueue s",
            "last reply s",
            "ideal s",
            "ratio",
            "peak in flight",
            "201 → claimed s (p50 / max)",
            "LLM call ms (p50 / max)",
            "worker CPU ms / command",
            "web CPU ms / POST",
            "max waiting in Redis",
            "machine busy %",
            "replies (errors)",
        ],
        rows,
    )
    from .analysis import _run

    timelines = []
    labels = list(dict.fromkeys(r["label"] for r in slow["runs"]))
    for r in [_run(slow, label) for label in labels]:
        if r is None:
            continue
        points = r.get("in_flight_timeline") or []
        step = max(1, len(points) // 24)
        timelines.append(
            f"- {r['label']}"
            + (f" (run {r['repeat']}, the median one)" if slow.get("repeats", 1) > 1 else "")
            + ": "
            + ", ".join(
                f"{p[0]:.1f} s: {p[1]}" + (f"/{p[2]}/{p[3]}" if len(p) > 3 else "")
                for p in points[::step]
            )
        )
    return (
        table + "\n\nOver time, seconds after the first POST: calls in flight at the provider / "
        "messages waiting in Redis / messages taken by the worker and not yet acknowledged "
        "(reserved or running):\n\n" + "\n".join(timelines)
    )


def _overhead(over: dict[str, Any]) -> str:
    o = over["overhead_ms"]
    head = _table(
        ["", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [
            ["overhead (total − LLM call)", o["n"], o["p50"], o["p90"], o["p99"], o["max"]],
            ["total: POST sent → reply committed"]
            + [over["total_ms"][k] for k in ("n", "p50", "p90", "p99", "max")],
            ["LLM call as timed by our client (latency_ms)"]
            + [over["llm_latency_ms"][k] for k in ("n", "p50", "p90", "p99", "max")],
        ],
    )
    phases = _table(
        ["phase", "p50 ms", "p90 ms", "p99 ms"],
        [[name, v["p50"], v["p90"], v["p99"]] for name, v in over["phases_ms"].items()],
    )
    prof = ""
    if over.get("profile"):
        app = (over["profile"].get("app_functions") or over["profile"]["inclusive"])[:16]
        own = over["profile"]["self"][:12]
        prof = (
            f"\n\nWorker profile (py-spy --gil, {over['profile']['samples']} samples over the "
            "profiled pass; share of the worker's Python CPU time):\n\n"
            + _table(
                ["inclusive %", "function (the app's own code)"], [[s, f"`{f}`"] for s, f in app]
            )
            + "\n\n"
            + _table(["self %", "frame"], [[s, f"`{f}`"] for s, f in own])
        )
    return (
        head
        + "\n\n"
        + phases
        + f"\n\nCPU over the measured pass: worker {over['worker_cpu_ms_per_command']} ms per "
        f"command, web (gunicorn) {over['web_cpu_ms_per_post']} ms per POST; machine "
        f"{over['cpu']['machine_busy_pct']} % busy." + prof
    )


def _client(client: dict[str, Any]) -> str:
    p = client["per_call_us"]
    cpu = client["client_cpu_us_per_call"]
    per = _table(
        ["client", "calls", "p50 µs", "p90 µs", "p99 µs", "client CPU µs / call"],
        [[n, v["n"], v["p50"], v["p90"], v["p99"], cpu[n]] for n, v in p.items()],
    )
    ratios = _table(
        ["ratio of medians", "value"],
        [[k, f"{v:.2f}"] for k, v in client["ratios_of_medians"].items()],
    )
    burst = _table(
        [
            "client",
            "max keep-alive connections",
            "calls",
            "all answered after s",
            "call p50 s",
            "call max s",
            "errors",
        ],
        [
            [
                b["client"],
                b["max_keepalive_connections"],
                b["calls"],
                b["elapsed_s"],
                b["call_p50_s"],
                b["call_max_s"],
                b.get("errors", 0),
            ]
            for b in client["burst"]
        ],
    )
    return (
        per
        + "\n\n"
        + ratios
        + "\n\nBurst: "
        + str(client["burst"][0]["calls"])
        + " calls started together, provider latency 2 s:\n\n"
        + burst
    )


def _web(web: dict[str, Any]) -> str:
    rows = []
    for r in web["results"]:
        lat = r["latency_ms"]
        rows.append(
            [
                r["mode"],
                r["endpoint"],
                f"{r['rps']:.1f}",
                lat.get("p50"),
                lat.get("p90"),
                lat.get("p99"),
                r["unloaded_latency_ms"]["p50"],
                r["server_cpu_ms_per_request"],
                r["bytes"],
                r["non_2xx"],
            ]
        )
    return (
        _table(
            [
                "gunicorn",
                "endpoint",
                "req/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "unloaded p50 ms",
                "server CPU ms / req",
                "bytes",
                "non-2xx",
            ],
            rows,
        )
        + "\n\ngunicorn modes: "
        + "; ".join(f"`{k}` = `gunicorn {v}`" for k, v in web["gunicorn_modes"].items())
        + f"; wrk -t1 -c{web['connections']} -d{web.get('wrk_duration_s', 10)}s "
        "after a 2 s warm-up."
    )


def write_report() -> Path:
    from .analysis import ANALYSIS, CHANGES, PROBLEMS, intro

    slow, over, client, web = (load_result(n) for n in ("slow", "overhead", "client", "web"))
    present = [r for r in (slow, over, client, web) if r]
    parts = [
        "# Benchmarks",
        "",
        "_Generated by `python -m bench` (bench/report.py + bench/analysis.py) from "
        "bench/results/*.json; edit the text there, not here._",
        "",
        intro(),
        "",
        f"**Machine:** {_machine(present)}.",
        "",
        "## Summary",
        "",
        _summary(slow, over, client, web),
        "",
        CHANGES(slow, over, client, web),
    ]
    if slow:
        parts += [
            "",
            "## 1. Slow providers",
            "",
            f"`{slow['command']}` — {_when(slow)}",
            "",
            _slow(slow),
            "",
            ANALYSIS["slow"](slow),
        ]
    if over:
        parts += [
            "",
            "## 2. Overhead per command",
            "",
            f"`{over['command']}` — {_when(over)}",
            "",
            _overhead(over),
            "",
            ANALYSIS["overhead"](over),
        ]
    if client:
        parts += [
            "",
            "## 3. Client overhead",
            "",
            f"`{client['command']}` — {_when(client)}",
            "",
            _client(client),
            "",
            ANALYSIS["client"](client),
        ]
    if web:
        parts += [
            "",
            "## 4. Web",
            "",
            f"`{web['command']}` — {_when(web)}",
            "",
            _web(web),
            "",
            ANALYSIS["web"](web),
        ]
    parts += ["", PROBLEMS(slow, over, client, web), ""]
    REPORT.write_text("\n".join(parts))
    return REPORT
