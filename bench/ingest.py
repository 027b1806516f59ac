"""Ack latency and throughput of `POST /slack/events` for customer messages, against bare Bolt.

Both apps run in their own subprocess under the same server (gunicorn, gthread workers, the
configuration `triage serve` uses), so the load generator in this process does not share their
GIL. *ours* is the real app (`create_web(create_app(deps), deps)`: stores each event in the
database and enqueues a job to Redis before the ack); *bare* is a `slack_bolt.App` with one
`message` listener that does nothing, behind Flask like ours. Each phase sends warm-up events,
then `--events` signed Slack Connect customer messages from `--concurrency` keep-alive client
threads; phases alternate bare, ours, bare, ours... and the median of the rounds is reported.

    python bench/ingest.py            # full run; updates bench/RESULTS.md
    python bench/ingest.py --quick    # smoke run (300 events, 1 round)

PostgreSQL: a fresh database created on `--postgres-admin-url` and dropped afterwards (or pass
`--database-url sqlite:///...`). Redis: logical database `--redis-url`, flushed before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests.harness` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

APPS = ("bare", "ours")
PIPELINE_QUEUE = "triage-pipeline"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# --- the servers (child processes) ------------------------------------------------------------


def build_ours(api_url: str, database_url: str, redis_url: str) -> Any:
    """The real app, exactly as `triage serve` builds it in a worker."""
    from app.deps import Deps
    from app.main import create_app
    from app.settings import load_settings
    from app.web import create_web
    from tests.harness import SECRET, TOKEN, TRIAGE

    settings = load_settings(
        _env_file=None, slack_bot_token=TOKEN, slack_signing_secret=SECRET,
        slack_api_url=api_url, database_url=database_url, redis_url=redis_url,
        triage_channel=TRIAGE, grouping_minutes=0, log_format="json",
    )
    deps = Deps.build(settings)
    return create_web(create_app(deps), deps)


def build_bare(api_url: str) -> Any:
    """A Bolt app that only acks `message` events, behind Flask like ours."""
    from flask import Flask, request
    from slack_bolt import App
    from slack_bolt.adapter.flask import SlackRequestHandler
    from slack_sdk import WebClient

    from tests.harness import SECRET, TOKEN

    bolt = App(signing_secret=SECRET, token=TOKEN, token_verification_enabled=False,
               process_before_response=True, client=WebClient(token=TOKEN, base_url=api_url))

    @bolt.event("message")
    def on_message() -> None:
        """Nothing: the ack is the whole job."""

    handler = SlackRequestHandler(bolt)
    web = Flask("bare")

    @web.post("/slack/events")
    def events() -> Any:
        return handler.handle(request)

    return web


def serve(args: argparse.Namespace) -> None:
    """Child mode: serve one app under gunicorn with the configuration of `triage serve`."""
    from gunicorn.app.base import BaseApplication

    from app.logs import configure_logging

    configure_logging("INFO", "json")  # what `triage serve` does with stderr not a terminal

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"127.0.0.1:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 30)
            self.cfg.set("accesslog", None)

        def load(self) -> Any:
            if args.serve == "ours":
                return build_ours(args.api_url, args.database_url, args.redis_url)
            return build_bare(args.api_url)

    _Server().run()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(name: str, args: argparse.Namespace, api_url: str, database_url: str,
                 workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start `--serve NAME` in a subprocess and wait until it answers."""
    port = free_port()
    metrics_dir = workdir / f"metrics-{name}"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}  # as the CLI sets it
    command = [sys.executable, __file__, "--serve", name, "--port", str(port),
               "--workers", str(args.workers), "--threads", str(args.threads),
               "--api-url", api_url, "--database-url", database_url, "--redis-url", args.redis_url]
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            if name == "ours":
                conn.request("GET", "/healthz")
            else:
                conn.request("POST", "/slack/events", body=b"{}")
            status = conn.getresponse().status
            conn.close()
            if status == (200 if name == "ours" else 401):
                return process, port
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    tail = (workdir / f"{name}.log").read_text(errors="replace")[-2000:]
    raise SystemExit(f"{name} server did not become ready; its log ends with:\n{tail}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # gunicorn: graceful stop
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- the load ---------------------------------------------------------------------------------


class Events:
    """Envelopes of customer messages in the shared channel, each with a unique ts and id."""

    def __init__(self) -> None:
        self.serial = 0
        self.run = uuid.uuid4().hex[:6].upper()

    def batch(self, count: int) -> list[bytes]:
        from sandbox.slack_events import message_envelope
        from tests.harness import BOT_USER, CUSTOMER, CUSTOMER_TEAM, ORG, SHARED

        bodies = []
        for _ in range(count):
            self.serial += 1
            n = self.serial
            message = {"type": "message", "user": CUSTOMER, "team": CUSTOMER_TEAM,
                       "ts": f"{1700000000 + n}.{n % 1000000:06d}",
                       "text": f"Hi team, exports fail with error 500 since 9am (#{n}). Help?"}
            body = message_envelope(message, channel=SHARED, installed_team_id=ORG,
                                    bot_user_id=BOT_USER, is_ext_shared_channel=True,
                                    author_team_id=CUSTOMER_TEAM,
                                    event_id=f"EvB{self.run}{n:08d}")
            bodies.append(json.dumps(body).encode())
        return bodies


@dataclass
class Phase:
    app: str
    latencies: list[float]  # seconds, of the requests that got an answer
    statuses: dict[int, int]
    errors: int  # connection errors and timeouts
    seconds: float
    timed_out: bool

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    @property
    def non_2xx(self) -> int:
        return self.errors + sum(n for s, n in self.statuses.items() if not 200 <= s < 300)

    def row(self) -> dict[str, float]:
        return {"p50": self.pct(50), "p90": self.pct(90), "p99": self.pct(99),
                "max": max(self.latencies) * 1000, "eps": len(self.latencies) / self.seconds,
                "non2xx": float(self.non_2xx), "count": float(len(self.latencies))}


def send(port: int, bodies: list[bytes], concurrency: int, timeout: float) -> Phase:
    """POST every body from `concurrency` keep-alive connections; time each request."""
    from sandbox.slack_events import sign
    from tests.harness import SECRET

    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]
    deadline = time.monotonic() + timeout

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        seen: dict[int, int] = {}
        failed = 0
        while time.monotonic() < deadline:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            body = bodies[i]
            headers = {"Content-Type": "application/json", **sign(body, SECRET)}
            started = time.perf_counter()
            try:
                conn.request("POST", "/slack/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - started)
            seen[response.status] = seen.get(response.status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            for status, n in seen.items():
                statuses[status] = statuses.get(status, 0) + n

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return Phase("", latencies, statuses, errors[0], elapsed, time.monotonic() >= deadline)


# --- storage ----------------------------------------------------------------------------------


def create_database(admin_url: str) -> tuple[str, str]:
    """A fresh PostgreSQL database (name, url), like the tests' fixture makes."""
    import psycopg

    name = f"triage_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    from redis import Redis

    client = Redis.from_url(url)
    client.flushdb()
    client.close()


def stored_counts(database_url: str, redis_url: str) -> tuple[int, int]:
    """(events in the database, jobs waiting in the pipeline queue): did ours do its work?"""
    from redis import Redis
    from sqlalchemy import text

    from integrations.store.db import create_db_engine

    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        events = int(connection.execute(text("SELECT count(*) FROM slack_events")).scalar_one())
    engine.dispose()
    client = Redis.from_url(redis_url)
    jobs = int(client.llen(f"rq:queue:{PIPELINE_QUEUE}"))
    client.close()
    return events, jobs


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    from integrations.store.db import upgrade
    from tests.harness import build_emulator

    workdir = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    db_name = None
    database_url = args.database_url
    if database_url is None:
        db_name, database_url = create_database(args.postgres_admin_url)
    servers: list[subprocess.Popen[bytes]] = []
    emu = build_emulator().start()
    phases: list[Phase] = []
    try:
        upgrade(database_url)
        flush_redis(args.redis_url)
        ports = {}
        for name in APPS:
            process, ports[name] = start_server(name, args, emu.api_url, database_url, workdir)
            servers.append(process)
        events = Events()
        slack_calls_before = None
        for round_no in range(args.rounds):
            for name in APPS:
                send(ports[name], events.batch(args.warmup), args.concurrency, args.phase_timeout)
                if slack_calls_before is None and name == APPS[-1]:
                    slack_calls_before = len(emu.calls())  # both apps are warm from here on
                bodies = events.batch(args.events)
                phase = send(ports[name], bodies, args.concurrency, args.phase_timeout)
                phase.app = name
                phases.append(phase)
                r = phase.row()
                print(f"round {round_no + 1} {name:>4}: p50 {r['p50']:.1f} ms  "
                      f"p99 {r['p99']:.1f} ms  {r['eps']:.0f} events/s  "
                      f"non-2xx {r['non2xx']:.0f}", flush=True)
        slack_calls = len(emu.calls()) - (slack_calls_before or 0)
        stored, queued = stored_counts(database_url, args.redis_url)
    finally:
        for process in servers:
            stop_server(process)
        emu.stop()
        flush_redis(args.redis_url)
        if db_name:
            drop_database(args.postgres_admin_url, db_name)
        shutil.rmtree(workdir, ignore_errors=True)
    ours_sent = args.rounds * (args.warmup + args.events)
    check = (f"ours stored {stored} events in the database and queued {queued} pipeline jobs "
             f"for {ours_sent} sent; Slack API calls during the measured phases: {slack_calls}")
    report(args, phases, check)


def summarise(phases: list[Phase]) -> dict[str, dict[str, float]]:
    """Per app, the median over rounds of each statistic (counts are summed)."""
    out: dict[str, dict[str, float]] = {}
    for name in APPS:
        rows = [p.row() for p in phases if p.app == name]
        out[name] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        out[name]["non2xx"] = sum(r["non2xx"] for r in rows)
    return out


def report(args: argparse.Namespace, phases: list[Phase], check: str) -> None:
    from rich.console import Console
    from rich.table import Table

    summary = summarise(phases)
    bare, ours = summary["bare"], summary["ours"]
    p50_ratio, p99_ratio = ours["p50"] / bare["p50"], ours["p99"] / bare["p99"]
    met = p99_ratio <= 2.0
    incomplete = any(p.timed_out for p in phases)
    columns = ("p50 ms", "p90 ms", "p99 ms", "max ms", "events/s", "non-2xx")
    keys = ("p50", "p90", "p99", "max", "eps", "non2xx")
    table = Table(title="POST /slack/events, customer messages (median of rounds)")
    table.add_column("app")
    for column in columns:
        table.add_column(column, justify="right")
    lines = ["| app | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in (("bare Bolt", bare), ("ours", ours)):
        cells = [f"{row[k]:.1f}" if k not in ("eps", "non2xx") else f"{row[k]:.0f}" for k in keys]
        table.add_row(name, *cells)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratio = f"ours/bare: p50 {p50_ratio:.2f}×, p99 {p99_ratio:.2f}×, events/s " \
            f"{ours['eps'] / bare['eps']:.2f}×"
    verdict = (f"Target (ours p99 ≤ 2× bare p99): {'met' if met else 'NOT met'} "
               f"({ours['p99']:.1f} ms vs {bare['p99']:.1f} ms, {p99_ratio:.2f}×)")
    if incomplete:
        verdict += f"; some phase hit the {args.phase_timeout:.0f} s limit before all events"
    console = Console()
    console.print(table)
    console.print(ratio)
    console.print(verdict)
    console.print(check)
    if args.no_record:
        return
    per_round = [f"{p.app} {p.row()['p50']:.1f}/{p.row()['p99']:.1f} ms "
                 f"{p.row()['eps']:.0f}/s" for p in phases]
    label = "quick" if args.quick else "full"
    db_kind = "SQLite" if args.database_url and args.database_url.startswith("sqlite") \
        else "PostgreSQL"
    section = "\n".join([
        f"<!-- ingest:{label}:start -->",
        f"## Ingest ack latency ({label} run)",
        "",
        f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}",
        f"- Machine: {os.cpu_count()} CPUs ({platform.machine()}, {platform.system()}), "
        f"Python {platform.python_version()}, load average before the run "
        f"{args.load_before}",
        f"- Command: `{shlex.join(['python', 'bench/ingest.py', *sys.argv[1:]])}`",
        f"- Parameters: {args.events} events per phase after {args.warmup} warm-up, "
        f"{args.concurrency} keep-alive client threads, {args.rounds} round(s) "
        f"({', '.join(APPS)} alternately), gunicorn gthread {args.workers} worker(s) × "
        f"{args.threads} threads for both apps, {db_kind}, Redis {args.redis_url}",
        "",
        *lines,
        "",
        f"Per phase (p50/p99, events/s): {'; '.join(per_round)}.",
        "",
        f"**{ratio}.** **{verdict}.**",
        "",
        f"Check: {check}.",
        f"<!-- ingest:{label}:end -->",
    ])
    write_section(label, section)
    console.print(f"recorded in {RESULTS.relative_to(REPO)}")


def write_section(label: str, section: str) -> None:
    """Replace this label's section of RESULTS.md (full and quick runs keep their own)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    start, end = f"<!-- ingest:{label}:start -->", f"<!-- ingest:{label}:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="measured events per phase")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured events per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--rounds", type=int, default=2, help="bare+ours phase pairs")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (both apps)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--phase-timeout", type=float, default=180, help="seconds per phase")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 events, 1 round")
    parser.add_argument("--no-record", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--database-url", help="e.g. sqlite:///bench.db (default: fresh PG db)")
    parser.add_argument("--postgres-admin-url",
                        default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12",
                        help="a logical database of its own: flushed before and after")
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.rounds = min(args.events, 300), 1
        args.warmup = min(args.warmup, 50)
    return args


def main() -> None:
    args = parse_args()
    if args.serve:
        serve(args)
        return
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run(args)


if __name__ == "__main__":
    main()
