"""Salesforce API requests per new customer request, cold and warm, in each auth mode.

Runs the real app and its real pipeline jobs against the Slack emulator and the local HTTPS
Salesforce (`sandbox/salesforce_server.py`), which records every request it receives. For each
auth mode it sends customer messages that each open a new request and counts what reached
Salesforce for each one:

1. cold process, cold cache (the first request a worker ever handles: it must log in),
2. warm cache (the same customer again, within CONTEXT_CACHE_SECONDS),
3. cold cache, live session (another customer of the same channel),
4. cold cache after `invalidate_context` (what `triage link` and a new Case do).

It also times the context stage itself (`gather_context`), cold and warm. The section between
`<!-- salesforce-calls:start/end -->` in bench/RESULTS.md is rewritten (`--no-record` skips it).

    python bench/salesforce_calls.py [--redis-url redis://127.0.0.1:6379/13] [--no-record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

from redis import Redis  # noqa: E402

from app.logs import configure_logging  # noqa: E402
from integrations.store.db import upgrade  # noqa: E402
from sandbox.salesforce_server import SalesforceServer  # noqa: E402
from sandbox.world import CUSTOMER, OUTSIDER, SHARED  # noqa: E402
from tests.harness import start_world  # noqa: E402
from tests.salesforce_world import (  # noqa: E402
    CONSUMER_KEY,
    PASSWORD,
    SECURITY_TOKEN,
    USERNAME,
    auth_settings,
    rsa_key_pair,
    seed,
)
from workers.context import gather_context, invalidate_context  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- salesforce-calls:start -->", "<!-- salesforce-calls:end -->"
MODES = {"access token": "access token", "password": "username + password", "jwt": "JWT bearer"}
TIMED = 20


def measure(mode: str, redis_url: str, workdir: Path) -> dict[str, object]:
    key_file, public_key = rsa_key_pair(workdir)
    server = SalesforceServer(
        username=USERNAME,
        password=PASSWORD,
        security_token=SECURITY_TOKEN,
        consumer_key=CONSUMER_KEY,
        jwt_public_key=public_key,
    )
    with server:
        os.environ["REQUESTS_CA_BUNDLE"] = server.ca_file
        org = seed(server)
        database_url = f"sqlite:///{workdir / 'triage.db'}"
        upgrade(database_url)
        Redis.from_url(redis_url).flushdb()
        rows: list[tuple[str, int, int]] = []
        with start_world(
            database_url=database_url,
            redis_url=redis_url,
            grouping_minutes=0,
            **auth_settings(org, mode, key_file),
        ) as world:

            def request(label: str, user: str, text: str) -> None:
                server.clear_requests()
                world.customer_says(text, user=user)
                world.drain()
                rows.append((label, len(server.logins()), len(server.api_calls())))

            request("cold process, cold cache", CUSTOMER, "Is the SSO outage fixed?")
            request("warm cache (same customer)", CUSTOMER, "And the audit log export?")
            request(
                "cold cache, live session (another customer)",
                OUTSIDER,
                "Hello, a question: can we add a second admin?",
            )
            invalidate_context(world.deps.redis, channel_id=SHARED)
            request(
                "cold cache after invalidation",
                CUSTOMER,
                "One more thing: can you resend the invoice?",
            )
            assert len(world.cards()) == 4, "every request got its card"

            cold, warm = [], []
            for _ in range(TIMED):
                invalidate_context(world.deps.redis, channel_id=SHARED)
                started = time.perf_counter()
                gather_context(world.deps, channel_id=SHARED, user_id=CUSTOMER)
                cold.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                gather_context(world.deps, channel_id=SHARED, user_id=CUSTOMER)
                warm.append((time.perf_counter() - started) * 1000)
        Redis.from_url(redis_url).flushdb()
    return {"rows": rows, "cold_ms": statistics.median(cold), "warm_ms": statistics.median(warm)}


def report(results: dict[str, dict[str, object]], redis_url: str) -> str:
    lines = [
        START,
        "## Salesforce: API requests per new request",
        "",
        f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "- Command: `python bench/salesforce_calls.py`",
        "- Setup: the real pipeline (`world.drain()`), the Slack emulator, the local HTTPS "
        "Salesforce counting every request it receives; SQLite; Redis " + redis_url,
        "- *login* = token or SOAP login requests; *API* = REST data API requests (SOQL, sobjects)",
        "",
        "| request | " + " | ".join(f"{MODES[m]} login / API" for m in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    labels = [label for label, _, _ in next(iter(results.values()))["rows"]]  # type: ignore[union-attr]
    for i, label in enumerate(labels):
        cells = []
        for result in results.values():
            _, logins, api = result["rows"][i]  # type: ignore[index]
            cells.append(f"{logins} / {api}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Context stage (`gather_context`, median of "
        f"{TIMED}): "
        + "; ".join(
            f"{MODES[m]} cold {r['cold_ms']:.1f} ms, warm {r['warm_ms']:.1f} ms"
            for m, r in results.items()
        )
        + ". Cold includes the Slack look-ups of the customer's email and the owner "
        "(`users.info`, `users.lookupByEmail`, against the local emulator); warm makes no "
        "Salesforce or Slack call.",
        "",
        "Target: at most 2 Salesforce requests per new request on a cold cache, 0 on a warm "
        f"one. **{'Met' if target_met(results) else 'NOT met'}**: the whole context is one "
        "SOQL query (relationship fields and child subqueries); a process logs in once "
        "(password and JWT) and reuses the session until Salesforce says it expired.",
        END,
    ]
    return "\n".join(lines)


def record(section: str) -> None:
    text = RESULTS.read_text()
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--no-record", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the app's local HTTP server
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-sf-") as tmp:
        for mode in MODES:
            (Path(tmp) / mode.replace(" ", "-")).mkdir()
            results[mode] = measure(mode, args.redis_url, Path(tmp) / mode.replace(" ", "-"))
    section = report(results, args.redis_url)
    print(section)
    if not args.no_record:
        record(section)
    return 0 if target_met(results) else 1


def target_met(results: dict[str, dict[str, object]]) -> bool:
    """At most 2 requests for any new request, none for the warm one."""
    rows = [row for result in results.values() for row in result["rows"]]  # type: ignore[attr-defined]
    warm = [result["rows"][1] for result in results.values()]  # type: ignore[index]
    return all(logins + api <= 2 for _, logins, api in rows) and all(
        logins + api == 0 for _, logins, api in warm
    )


if __name__ == "__main__":
    sys.exit(main())
