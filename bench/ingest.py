"""Ack latency and throughput of `POST /slack/events` for customer messages, against bare Bolt.

Both apps run in their own subprocess under the same server (gunicorn gthread, configured as
`triage serve` does), so this load generator does not share their GIL. *ours* is the real app
(it stores each event in the database and enqueues a job to Redis before the ack); *bare* is a
`slack_bolt.App` whose one `message` listener does nothing, behind Flask like ours. Phases
alternate bare, ours, bare, ours...; each sends warm-up events, then `--events` signed Slack
Connect customer messages from `--concurrency` keep-alive client threads. Medians of the rounds
are reported and recorded in bench/RESULTS.md.

    python bench/ingest.py            # full run, recorded as section "full"
    python bench/ingest.py --quick    # smoke run (300 events, 1 round), not recorded

Storage: a fresh PostgreSQL database (created on `--postgres-admin-url`, dropped afterwards) or
`--database-url sqlite:///...`; Redis logical database `--redis-url`, flushed before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests.harness` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

from bench_servers import APPS, SECRET, start_server, stop_server  # noqa: E402  (after the sys.path fix)


def customer_messages(serials: range, run: int) -> list[bytes]:
    """Event envelopes of customer messages in the shared channel, one per serial number.

    Each has its own ts and event id (also across runs sharing a database, through `run`), so
    each is a new request for ours, never a duplicate.
    """
    from sandbox.slack_events import message_envelope
    from sandbox.world import BOT_USER, CUSTOMER, CUSTOMER_TEAM, ORG, SHARED

    bodies = []
    for n in serials:
        message = {
            "type": "message",
            "user": CUSTOMER,
            "team": CUSTOMER_TEAM,
            "ts": f"{1700000000 + n}.{run:06d}",
            "text": f"Hi team, exports fail with error 500 since 9am (#{n}). Help?",
        }
        body = message_envelope(
            message,
            channel=SHARED,
            installed_team_id=ORG,
            bot_user_id=BOT_USER,
            is_ext_shared_channel=True,
            author_team_id=CUSTOMER_TEAM,
            event_id=f"EvB{run:06d}{n:08d}",
        )
        bodies.append(json.dumps(body).encode())
    return bodies


@dataclass
class Phase:
    """One load phase against one app: what each request took and what it got back."""

    app: str
    latencies: list[float]  # seconds, of the requests that got an answer
    statuses: dict[int, int]
    errors: int  # connection errors and timeouts
    seconds: float
    timed_out: bool

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies) or [float("nan")]
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    def row(self) -> dict[str, float]:
        bad = self.errors + sum(n for s, n in self.statuses.items() if not 200 <= s < 300)
        return {
            "p50": self.pct(50),
            "p90": self.pct(90),
            "p99": self.pct(99),
            "max": self.pct(100),
            "eps": len(self.latencies) / self.seconds,
            "non2xx": float(bad),
        }


def send(app: str, port: int, bodies: list[bytes], concurrency: int, timeout: float) -> Phase:
    """POST every body from `concurrency` keep-alive connections, timing each request."""
    from sandbox.slack_events import sign

    lock = threading.Lock()
    cursor = iter(bodies)
    answered: list[tuple[float, int]] = []  # (seconds, status); list.append is thread-safe
    failed: list[BaseException] = []
    deadline = time.monotonic() + timeout

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            with lock:
                body = next(cursor, None)
            if body is None:
                break
            headers = {"Content-Type": "application/json", **sign(body, SECRET)}
            started = time.perf_counter()
            try:
                conn.request("POST", "/slack/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                answered.append((time.perf_counter() - started, response.status))
            except (OSError, http.client.HTTPException) as exc:
                failed.append(exc)
                conn.close()  # http.client reconnects on the next request
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    statuses = dict(Counter(status for _, status in answered))
    return Phase(
        app,
        [latency for latency, _ in answered],
        statuses,
        len(failed),
        seconds,
        time.monotonic() >= deadline,
    )


def admin_sql(admin_url: str, sql: str) -> None:
    """Run CREATE/DROP DATABASE on the PostgreSQL server, as the tests' fixture does."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql)  # type: ignore[arg-type]


def redis_db(url: str, *, flush: bool = False) -> int:
    """Jobs waiting in the pipeline queues (urgent first, and the rest); with `flush`, empty
    the logical database first."""
    from redis import Redis

    from integrations.queues import PIPELINE, PIPELINE_FIRST

    with Redis.from_url(url) as client:
        if flush:
            client.flushdb()
        return sum(int(client.llen(f"rq:queue:{q}")) for q in (PIPELINE_FIRST, PIPELINE))


def settled_queue(url: str, expected: int, seconds: float = 10.0) -> int:
    """The queued jobs once `expected` are there, or after `seconds`: the web process sends
    them to Redis from a thread after each ack (and judges each one's priority there)."""
    deadline = time.monotonic() + seconds
    while (queued := redis_db(url)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return queued


def stored_events(database_url: str) -> int:
    from sqlalchemy import text

    from integrations.store.db import create_db_engine

    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        events = int(connection.execute(text("SELECT count(*) FROM slack_events")).scalar_one())
    engine.dispose()
    return events


def run(args: argparse.Namespace) -> None:
    """Set up storage, the emulator and both servers; run the phases; clean up; report."""
    from integrations.store.db import upgrade
    from sandbox.world import build_emulator

    workdir = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    db_name, database_url = None, args.database_url
    if database_url and database_url.startswith("sqlite:///") and database_url[10:11] != "/":
        database_url = "sqlite:///" + os.path.abspath(database_url[10:])  # the children's cwd
    if database_url is None:
        db_name = f"triage_bench_{uuid.uuid4().hex[:10]}"
        admin_sql(args.postgres_admin_url, f'CREATE DATABASE "{db_name}"')
        database_url = args.postgres_admin_url.rsplit("/", 1)[0] + f"/{db_name}"
    servers: list[subprocess.Popen[bytes]] = []
    emu = build_emulator()  # Slack's Web API for the apps' auth.test; no call once warm
    phases: list[Phase] = []
    try:
        emu.start()
        upgrade(database_url)
        redis_db(args.redis_url, flush=True)
        ports, slack_calls, stored_before = {}, 0, stored_events(database_url)
        for name in APPS:
            process, ports[name] = start_server(name, args, emu.api_url, database_url, workdir)
            servers.append(process)
        serial, run_id = 0, secrets.randbelow(1000000)
        for round_no in range(args.rounds):
            for name in APPS:
                warmup = customer_messages(range(serial, serial + args.warmup), run_id)
                bodies = customer_messages(
                    range(serial + args.warmup, serial + args.warmup + args.events), run_id
                )
                serial += args.warmup + args.events
                send(name, ports[name], warmup, args.concurrency, 60)
                if round_no == 0 and name == APPS[-1]:
                    slack_calls = len(emu.calls())  # both apps are warm from here on
                phase = send(name, ports[name], bodies, args.concurrency, args.phase_timeout)
                phases.append(phase)
                r = phase.row()
                print(
                    f"round {round_no + 1} {name}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms"
                    f", {r['eps']:.0f} events/s, statuses {phase.statuses}, errors "
                    f"{phase.errors}",
                    flush=True,
                )
        slack_calls = len(emu.calls()) - slack_calls
        stored = stored_events(database_url) - stored_before
        queued = settled_queue(args.redis_url, stored)
    finally:
        for process in servers:
            stop_server(process)
        emu.stop()
        redis_db(args.redis_url, flush=True)
        if db_name:
            admin_sql(args.postgres_admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
    sent = args.rounds * (args.warmup + args.events)
    check = (
        f"ours stored {stored} events in the database and queued {queued} pipeline jobs "
        f"for {sent} sent; Slack API calls while measuring: {slack_calls}"
    )
    report(args, phases, check)


def report(args: argparse.Namespace, phases: list[Phase], check: str) -> None:
    """Print the table and the verdict; record them in RESULTS.md unless `--no-record`."""
    from rich.console import Console
    from rich.table import Table

    summary: dict[str, dict[str, float]] = {}
    for name in APPS:  # the median over rounds of each statistic; non-2xx are summed
        rows = [p.row() for p in phases if p.app == name]
        summary[name] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        summary[name]["non2xx"] = sum(r["non2xx"] for r in rows)
    bare, ours = summary["bare"], summary["ours"]
    p99_ratio = ours["p99"] / bare["p99"]
    columns = {
        "p50": "p50 ms",
        "p90": "p90 ms",
        "p99": "p99 ms",
        "max": "max ms",
        "eps": "events/s",
        "non2xx": "non-2xx",
    }
    table = Table(title="POST /slack/events, customer messages (median of rounds)")
    for column in ("app", *columns.values()):
        table.add_column(column, justify="left" if column == "app" else "right")
    lines = ["| app | " + " | ".join(columns.values()) + " |", "|---" * 7 + "|"]
    for name, row in (("bare Bolt", bare), ("ours", ours)):
        cells = [f"{row[k]:.0f}" if k in ("eps", "non2xx") else f"{row[k]:.1f}" for k in columns]
        table.add_row(name, *cells)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratio = (
        f"ours/bare: p50 {ours['p50'] / bare['p50']:.2f}×, p99 {p99_ratio:.2f}×, "
        f"events/s {ours['eps'] / bare['eps']:.2f}×"
    )
    verdict = (
        f"Target (ours p99 ≤ 2× bare p99): {'met' if p99_ratio <= 2 else 'NOT met'} "
        f"({ours['p99']:.1f} ms vs {bare['p99']:.1f} ms)"
    )
    if any(p.timed_out for p in phases):
        verdict += f"; a phase hit its {args.phase_timeout:.0f} s limit before sending all events"
    console = Console()
    for line in (table, ratio, verdict, check):
        console.print(line)
    if args.no_record or (args.quick and not args.label):
        return
    per_phase = "; ".join(
        f"{p.app} {p.row()['p50']:.1f}/{p.row()['p99']:.1f} ms {p.row()['eps']:.0f}/s"
        for p in phases
    )
    storage = "SQLite" if (args.database_url or "").startswith("sqlite") else "PostgreSQL"
    label = args.label or "full"
    section = "\n".join(
        [
            f"<!-- ingest:{label}:start -->",
            f"## Ingest ack latency: {label}",
            "",
            f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {os.cpu_count()} CPUs ({platform.machine()}), {platform.system()}, Python "
            f"{platform.python_version()}; load average before the run {args.load_before}",
            f"- Command: `{shlex.join(['python', 'bench/ingest.py', *sys.argv[1:]])}`",
            f"- Parameters: {args.events} events per phase after {args.warmup} warm-up, "
            f"{args.concurrency} keep-alive client thread(s), {args.rounds} round(s) of bare then "
            f"ours; both served by gunicorn gthread, {args.workers} worker(s) × {args.threads} "
            f"threads; {storage}; Redis {args.redis_url}",
            "",
            *lines,
            "",
            f"Per phase (p50/p99, events/s): {per_phase}.",
            "",
            f"**{ratio}. {verdict}.**",
            "",
            f"Check: {check}.",
            f"<!-- ingest:{label}:end -->",
        ]
    )
    write_section(label, section)
    console.print(f"recorded in {RESULTS.relative_to(REPO)} ({label})")


def write_section(label: str, section: str) -> None:
    """Replace this label's section of RESULTS.md, or append it; other sections stay."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    start, end = f"<!-- ingest:{label}:start -->", f"<!-- ingest:{label}:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--events", type=int, default=2000, help="measured events per phase (default 2000)")
    add("--warmup", type=int, default=100, help="unmeasured events before each phase")
    add("--concurrency", type=int, default=8, help="client threads (default 8)")
    add("--rounds", type=int, default=2, help="bare-then-ours rounds (default 2)")
    add("--workers", type=int, default=1, help="gunicorn workers, both apps (default 1)")
    add("--threads", type=int, default=8, help="threads per worker (default 8)")
    add("--phase-timeout", type=float, default=180, help="seconds a phase may take")
    add(
        "--quick",
        action="store_true",
        help="smoke run: 300 events, 50 warm-up, 1 round; not recorded unless --label",
    )
    add("--label", default=None, help="the RESULTS.md section to replace (default: full)")
    add("--no-record", action="store_true", help="do not update bench/RESULTS.md")
    add("--database-url", help="e.g. sqlite:///bench.db (default: a fresh PostgreSQL db)")
    add("--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    add("--redis-url", default="redis://127.0.0.1:6379/12", help="flushed before and after")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.warmup, args.rounds = min(args.events, 300), min(args.warmup, 50), 1
    return args


def main() -> None:
    args = parse_args()
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run(args)


if __name__ == "__main__":
    main()
