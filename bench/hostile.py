"""Many generated hostile Slack requests against the real app: which status each got.

The strategies of tests/hostile_payloads.py (Slack's sample payloads for every surface the app
listens on, mutated: fields dropped, wrong types, huge, deep, unicode-hostile), signed, POSTed
to the app of tests/harness.py over HTTP, with the pipeline run in this process every few
cases, as the tests run it. Mixed in: customer messages whose text is hostile, which must each
be carded once. Prints the statuses by surface, and every breach of the properties the tests
check: a 5xx, a traceback or error logged, a failed job, a request opened from something that
is not a customer's message, a valid customer message without its card.

    python bench/hostile.py [--cases 10000] [--postgres URL] [--redis URL]
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
import time
import timeit
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from redis import Redis

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

from app.logs import configure_logging  # noqa: E402
from app.web import inspect_body  # noqa: E402
from integrations.store.db import upgrade  # noqa: E402
from tests.harness import CUSTOMER, SHARED, World, start_world  # noqa: E402
from tests.hostile_payloads import bases, encode, hostile_requests  # noqa: E402
from tests.test_hostile_property import (  # noqa: E402
    HOSTILE_WORLD,
    Troubles,
    customer_words,
    failed_jobs,
    requests_at,
    requests_count,
)

DRAIN_EVERY = 25


def surface(name: str) -> str:
    """The kind of request a base is: `command /triage help (ours)` -> `command`."""
    first = name.split()[0]
    if first.startswith("event_message") or first in {"bot_message", "channel_join"}:
        return "message event (not a customer's)"
    if first == "customer_message" or "external_user" in first:
        return "customer message, mutated"
    return {"command": "slash command", "click": "block action", "submit": "view submission"}.get(
        first, "shortcut" if first == "shortcut" else "other event"
    )


def run(world: World, cases: int) -> None:
    statuses: dict[str, Counter[int]] = {}
    breaches: list[str] = []
    valid: list[str] = []  # ts of each valid customer message sent
    unhandled: list[str] = []  # what Bolt found no listener for (its 404)
    troubles = Troubles()
    logging.getLogger().addHandler(troubles)
    url = world.emu.response_url("hostile")
    mutated = st.one_of(hostile_requests(url, customer=False), hostile_requests(url, customer=True))
    count = [0]

    @settings(
        max_examples=cases,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(mutated, mutated, mutated, customer_words()))
    def one(case: Any) -> None:
        count[0] += 1
        if isinstance(case, str):  # a valid customer message with hostile words
            message = world.emu.post_as_user(SHARED, CUSTOMER, case)
            status, _ = world.send(world.envelope(message))
            valid.append(message["ts"])
            kind = "customer message, valid"
        else:
            base, body = case
            before = requests_count(world)
            raw, content_type = encode(base, body)
            status, _ = world.send(raw, content_type=content_type)
            kind = surface(base.name)
            if not base.customer and requests_count(world) != before:
                breaches.append(f"request opened from {base.name}")
        statuses.setdefault(kind, Counter())[status] += 1
        if status == 404 and isinstance(case, tuple):
            unhandled.append(case[0].name)
        if status >= 500:
            breaches.append(
                f"{status} for {kind}: {case[0].name if isinstance(case, tuple) else ''}"
            )
        if count[0] % DRAIN_EVERY == 0:
            world.drain()

    started = time.perf_counter()
    try:
        one()
    except Exception as exc:  # what was counted so far is still worth printing
        print(f"generation stopped after {count[0]} cases: {type(exc).__name__}: {exc}")
    world.drain()
    seconds = time.perf_counter() - started
    for ts in valid:
        carded = [r for r in requests_at(world, ts) if r.card_ts]
        if len(carded) != 1:
            breaches.append(f"a valid customer message carded {len(carded)} times")
    print(f"valid customer messages: {len(valid)}")
    print(f"no listener (Bolt's 404): {Counter(unhandled).most_common()}")
    report(statuses, breaches, troubles, world, count[0], seconds)


def report(
    statuses: dict[str, Counter[int]],
    breaches: list[str],
    troubles: Troubles,
    world: World,
    sent: int,
    seconds: float,
) -> None:
    codes = sorted({code for counter in statuses.values() for code in counter})
    print(f"{sent} generated requests in {seconds:.0f} s ({1000 * seconds / sent:.0f} ms each)")
    print("| surface | " + " | ".join(str(c) for c in codes) + " | all |")
    print("|---" * (len(codes) + 2) + "|")
    for kind, counter in sorted(statuses.items()):
        cells = " | ".join(str(counter.get(c, 0)) for c in codes)
        print(f"| {kind} | {cells} | {sum(counter.values())} |")
    total = Counter[int]()
    for counter in statuses.values():
        total.update(counter)
    print("| all | " + " | ".join(str(total[c]) for c in codes) + f" | {sum(total.values())} |")
    failed = failed_jobs(world)
    print("breaches (a 5xx, a request wrongly opened, a valid message not carded once):")
    for breach, times in Counter(breaches).most_common():
        print(f"  {times} × {breach}")
    print(f"failed jobs: {len(failed)}")
    logged = Counter(f"{r.name}: {str(r.msg)[:160]}" for r in troubles.records)
    print(f"errors or tracebacks logged: {len(troubles.records)} {logged.most_common(5)}")
    print(f"requests: {requests_count(world)}, cards: {len(world.cards())}")


def edge_cost() -> None:
    """What app/web.py's walk of a parsed body (`inspect_body`) costs before each ack: on
    Slack's own payloads, on a 39,000-character message, and on the worst 1 MB body (60,000
    small objects)."""

    def seconds(body: dict[str, Any], number: int) -> float:
        return timeit.timeit(lambda: inspect_body(body), number=number) / number

    samples = sorted(seconds(copy.deepcopy(b.body), 500) for b in bases("http://127.0.0.1/r"))
    long = {"type": "event_callback", "event": {"type": "message", "text": "é" * 39_000}}
    wide = {"type": "event_callback", "items": [{"k": n} for n in range(60_000)]}
    print(
        f"inspect_body: Slack's samples {1e6 * samples[len(samples) // 2]:.0f} µs median, "
        f"{1e6 * samples[-1]:.0f} µs max; a 39,000-character message "
        f"{1e6 * seconds(long, 200):.0f} µs; 1 MB of small objects {1e3 * seconds(wide, 5):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    args = parser.parse_args()
    configure_logging("ERROR", "console")  # the refusals are expected: only what breaks shows
    edge_cost()
    name = f"triage_hostile_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    Redis.from_url(args.redis).flushdb()
    try:
        upgrade(database_url)
        with start_world(database_url=database_url, redis_url=args.redis, **HOSTILE_WORLD) as w:
            run(w, args.cases)
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
