"""The outage morning: hundreds of customers write within minutes; how soon does each get a card?

The real app as a deployment runs it (`triage serve`, N × `triage worker`, real processes with
the environment a user sets) against PostgreSQL (a fresh database per run), Redis (a logical
database of `--redis-url`), the Slack emulator (Slack's rate limits enforced at F× with
`--limits F`, and the app told `SLACK_RATE_SCALE=F`), an accounts file of C customers (some
enterprise, most standard) and the local OpenAI server answering each call after
`--model-latency` seconds. M customer messages across the C shared channels are POSTed to
`/slack/events` as signed event envelopes, as fast as K client threads allow. Then it waits
for every card and every 👀 and reports, against two bounds: model calls × latency ÷
MODEL_CONCURRENCY, and the least time Slack's limits allow for posting the cards per card
channel (`bench/burst_report.py`). Exits 1 when a message got no card or two, or 👀 twice.

    python bench/burst.py --messages 500 --channels 100 --workers 2 --model-latency 1.5 --limits 5
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `bench`, `tests.harness` and `sandbox` are not installed
    sys.path.insert(0, str(REPO))

from bench.burst_fleet import Fleet, app_env  # noqa: E402
from bench.burst_floor import CommitProbe, during_sends  # noqa: E402
from bench.burst_measure import Measured, measure  # noqa: E402
from bench.burst_model import ModelProcess  # noqa: E402
from bench.burst_report import report  # noqa: E402
from bench.burst_send import Delivery, send  # noqa: E402
from bench.burst_world import (  # noqa: E402
    OWNERS,
    SECRET,
    TOKEN,
    TRIAGE,
    build_world,
    route_channels,
)
from integrations.store.db import upgrade  # noqa: E402

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
# No new card nor 👀 for this long: what is missing is lost (a lease expires in 15 s and the
# sweeper re-queues within seconds of it, so a job that died has been retried by then).
STALL_SECONDS = 90.0


@dataclass(frozen=True)
class Options:
    """One run's shape (the command's flags; tests/test_scale_out.py builds its own)."""

    messages: int = 500
    channels: int = 100
    workers: int = 2
    serves: int = 1
    web_workers: int = 2  # gunicorn processes per `triage serve` (its default)
    model: bool = True
    model_latency: float = 1.5
    model_concurrency: int | None = None  # None: the app's default
    worker_threads: int | None = None
    limits: float | None = None
    routes: str | None = None
    threads: int = 8  # the sender's client threads
    redeliver: float = 0.0  # this share of events is sent again, to another serve if any
    timeout: float | None = None  # waiting for the cards; None: from the size of the burst
    settle: float = 3.0  # seconds to keep watching after the last card, for a late second one
    database_url: str | None = None  # None: a fresh database on POSTGRES_ADMIN
    redis_url: str = "redis://127.0.0.1:6379/6"
    keep_logs: bool = False


@dataclass
class Outcome:
    """A finished run: what was measured and the fleet's peak memory per process."""

    options: Options
    measured: Measured
    rss: list[tuple[str, int, float]]  # (process, pid, peak MB)
    unstopped: list[str]  # processes still running STOP_SECONDS after SIGTERM
    workdir: Path


def run_burst(options: Options) -> Outcome:
    """Set everything up, send the burst, wait for the cards, measure, tear down."""
    workdir = Path(tempfile.mkdtemp(prefix="triage-burst-"))
    world = build_world(
        messages=options.messages,
        channels=options.channels,
        limits=options.limits,
        route_channels=route_channels(options.routes),
    )
    model = ModelProcess(options.model_latency, workdir)  # as OpenAI: elsewhere
    try:
        with _database(options.database_url) as database_url:
            with Redis.from_url(options.redis_url) as redis:
                redis.flushdb()
            world.emu.start()
            model.start()
            fleet = Fleet(_environment(options, world, database_url, model, workdir), workdir)
            try:
                fleet.start(
                    serves=options.serves, web_workers=options.web_workers, workers=options.workers
                )
                messages = world.post_messages(options.messages)
                deliveries = _deliveries(messages, fleet.urls, options.redeliver)
                warmup = _warmup(world, fleet.urls, options.threads * options.web_workers)
                world.emu.clear_calls()
                model.clear()
                probe = CommitProbe(database_url, workdir)  # the floor under each ack
                probe.start()
                acks = send(
                    deliveries,
                    threads=options.threads,
                    secret=SECRET,
                    workdir=workdir,
                    warmup=warmup,
                )
                commits = probe.stop()
                _wait_for_cards(world, options)
                fleet.stop()
                answers = model.answers()
                measured = measure(world, acks, database_url, answers, options.model_latency)
                measured.floor = during_sends(commits, acks)
            finally:
                fleet.stop()
        return Outcome(options, measured, fleet.rss_table(), fleet.unstopped, workdir)
    finally:
        model.stop()
        world.emu.stop()
        with Redis.from_url(options.redis_url) as redis:
            redis.flushdb()
        if not options.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def _database(url: str | None) -> Iterator[str]:
    """`url` as it is, or a fresh migrated database, dropped afterwards."""
    if url is not None:
        yield url
        return
    name = f"triage_burst_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        fresh = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        upgrade(fresh)
        yield fresh
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _environment(
    options: Options, world: Any, database_url: str, model: ModelProcess, workdir: Path
) -> dict[str, str]:
    """What a user would set for this deployment (the rest: the app's defaults)."""
    scale = str(options.limits) if options.limits is not None else None
    return app_env(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": world.emu.api_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": options.redis_url,
            "TRIAGE_CHANNEL": TRIAGE,
            "TRIAGE_ROUTES": options.routes,
            "ACCOUNTS_FILE": str(world.write_accounts_file(workdir / "accounts.json")),
            "OPENAI_API_KEY": "sk-local-burst" if options.model else None,
            "OPENAI_BASE_URL": model.base_url if options.model else None,
            "MODEL_CONCURRENCY": _text(options.model_concurrency),
            "WORKER_THREADS": _text(options.worker_threads),
            "SLACK_RATE_SCALE": scale,
            "METRICS_DIR": str(workdir / "metrics"),
            "LOG_FORMAT": "json",
        }
    )


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def _deliveries(messages: list[Any], urls: list[str], redeliver: float) -> list[Delivery]:
    """Each event to a random serve; a `redeliver` share of them again right after, as
    Slack's retry (`X-Slack-Retry-Num: 1`), to another serve when there is one."""
    chooser = random.Random(7)
    out = []
    for message in messages:
        first = chooser.choice(urls)
        body = message.body.decode()
        out.append(Delivery(message.serial, first, body))
        if chooser.random() < redeliver:
            others = [u for u in urls if u != first] or urls
            out.append(Delivery(message.serial, chooser.choice(others), body, retry=1))
    return out


def _warmup(world: Any, urls: list[str], each: int) -> list[Delivery]:
    """`each` health checks (the database and Redis pools) and `each` events the app reads
    and ignores (a colleague's message in the triage channel: Bolt, the signature) per serve."""
    said = world.emu.post_as_user(TRIAGE, OWNERS[0][0], "Good morning, team")
    ignored = json.dumps(world.emu.message_event(TRIAGE, said["ts"]))
    return [Delivery(-1, url, body) for url in urls for _ in range(each) for body in ("", ignored)]


def _wait_for_cards(world: Any, options: Options) -> None:
    """Until every message has a card and a 👀 (then `settle` seconds more, for a late second
    one), or nothing new came for STALL_SECONDS (a lost message), or the timeout."""
    expected = len(world.messages)
    timeout = options.timeout or 60 + 3 * expected * (1 + options.model_latency)
    deadline = time.monotonic() + timeout
    seen, changed, done_at = (-1, -1), time.monotonic(), None
    while time.monotonic() < deadline and time.monotonic() - changed < STALL_SECONDS:
        cards = sum(
            1 for c in world.card_channels for m in world.emu.messages(c) if m.get("bot_id")
        )
        eyes = {
            (c.args.get("channel"), c.args.get("timestamp"))
            for c in world.emu.calls("reactions.add")
            if getattr(c, "status", 200) != 429
        }
        if (cards, len(eyes)) != seen:
            seen, changed = (cards, len(eyes)), time.monotonic()
        if cards >= expected and len(eyes) >= expected:
            done_at = done_at or time.monotonic()
            if time.monotonic() - done_at >= options.settle:
                return
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="`triage worker` processes")
    parser.add_argument("--serves", type=int, default=1, help="`triage serve` processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per serve")
    parser.add_argument("--model", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--model-latency", type=float, default=1.5, help="seconds per call")
    parser.add_argument("--model-concurrency", type=int, help="MODEL_CONCURRENCY (app default)")
    parser.add_argument("--worker-threads", type=int, help="WORKER_THREADS (app default)")
    parser.add_argument("--limits", type=float, help="Slack's rates ×F in emulator and app")
    parser.add_argument("--routes", help="TRIAGE_ROUTES, e.g. tier:enterprise=C0ENT,default=C0STD")
    parser.add_argument("--threads", type=int, default=8, help="the sender's client threads")
    parser.add_argument("--redeliver", type=float, default=0.0, help="share sent twice")
    parser.add_argument("--timeout", type=float, help="seconds to wait for the cards")
    parser.add_argument("--database-url", help="an existing migrated database instead")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    args = parser.parse_args()
    options = Options(**{k: v for k, v in vars(args).items() if v is not None})
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulators' access logs
    heartbeat = threading.Event()
    threading.Thread(target=_progress, args=(heartbeat,), daemon=True).start()
    outcome = run_burst(options)
    heartbeat.set()
    print(report(outcome, command=" ".join(["python", "bench/burst.py", *sys.argv[1:]])))
    if options.keep_logs:
        print(f"logs: {outcome.workdir}")
    sys.exit(1 if outcome.measured.problems else 0)


def _progress(stop: threading.Event) -> None:
    started = time.monotonic()
    while not stop.wait(30):
        print(f"... {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
