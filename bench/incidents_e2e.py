"""One outage answered end to end, with incidents and without (SPEC §6.6).

The largest labelled incident of a morning file (`bench/data/*.jsonl`) is played through the
real app: each report is a customer of its own account writing in their own shared channel
(the Slack emulator, with Slack's published rate limits when `--limits 1`), one `triage
worker` process does the jobs. Printed, for each mode:

- *incidents*: seconds from the third account's report to the incident card, then one update
  approved for all; the Web API calls until every thread has it;
- *one by one* (`INCIDENTS=false`): every card's draft approved, one click each; the calls
  until every thread has its reply.

    python bench/incidents_e2e.py bench/data/incident_dev.jsonl [--reports N] [--limits F]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests.harness` and `sandbox` are not installed packages
    sys.path.insert(0, str(REPO))

from redis import Redis  # noqa: E402

from bench.incidents import scratch_database  # noqa: E402
from bench.one_message import TIERS  # noqa: E402
from tests.harness import World, wait_for  # noqa: E402
from tests.incident_world import (  # noqa: E402
    customer,
    incident_cards,
    incident_world,
    says,
    submit_update,
)
from workers.ids import ActionId  # noqa: E402


def reports_of(path: Path, count: int) -> list[str]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    sizes = Counter(r["incident"] for r in rows if r.get("incident"))
    largest = sizes.most_common(1)[0][0]
    texts, accounts = [], set()
    for row in rows:  # one report per account: each is its own customer here
        if row.get("incident") == largest and row["account"] not in accounts:
            accounts.add(row["account"])
            texts.append(row["text"])
    return texts[:count]


def answered(world: World, people: list[dict[str, str]]) -> bool:
    for who in people:
        [message] = [m for m in world.emu.messages(who["channel"]) if not m.get("bot_id")]
        if not world.replies_in(message["ts"], who["channel"]):
            return False
    return True


def settled(world: World, quiet: float = 5.0) -> None:
    """Until no Web API call came for `quiet` seconds."""
    seen, since = len(world.emu.calls()), time.time()
    while time.time() - since < quiet:
        time.sleep(0.5)
        now = len(world.emu.calls())
        if now != seen:
            seen, since = now, time.time()


def play(texts: list[str], *, incidents: bool, limits: float | None, pace: float) -> dict[str, Any]:
    redis_url = "redis://127.0.0.1:6379/14"
    Redis.from_url(redis_url).flushdb()
    with (
        scratch_database("postgresql://postgres@127.0.0.1:5432/test") as url,
        incident_world(url, redis_url, incidents=incidents, sla_minutes="standard=240") as world,
    ):
        world.emu.limits = limits
        people = [customer(world, n) for n in range(len(texts))]
        world.emu.clear_calls()
        world.start_worker(f"bench-incidents-{incidents}")
        third_at = None
        for n, (who, text) in enumerate(zip(people, texts, strict=True)):
            says(world, who, text)
            if n == 2:
                third_at = time.time()
            time.sleep(pace)
        result: dict[str, Any] = {"reports": len(texts)}
        wait_for(lambda: len(world.cards()) == len(texts), timeout=600, interval=0.5)
        if incidents:
            [card] = wait_for(lambda: incident_cards(world), timeout=120)
            result["third_to_incident_card_s"] = round(float(card["ts"]) - (third_at or 0), 2)
            result["incident_reports"] = json.dumps(card["blocks"]).count("Split out")
            submit_update(world, card, ActionId.INCIDENT_UPDATE, None)
            clicks = 1
            for other in world.cards():  # a report the incident did not take: its own click
                if "part of" not in json.dumps(other["blocks"]):
                    world.click(ActionId.APPROVE_DRAFT, other)
                    clicks += 1
        else:
            clicks = 0
            for card in world.cards():
                world.click(ActionId.APPROVE_DRAFT, card)
                clicks += 1
        started = time.time()
        wait_for(lambda: answered(world, people), timeout=900, interval=0.5)
        result["approve_to_all_answered_s"] = round(time.time() - started, 1)
        result["clicks"] = clicks
        settled(world)  # the ✅, the cards redrawn: every call the answers cost
        calls = Counter(c.method for c in world.emu.calls())
        result["calls"] = dict(sorted(calls.items()))
        result["calls_total"] = sum(calls.values())
        result["tier3"] = sum(n for m, n in calls.items() if TIERS.get(m) == "Tier 3")
        result["ratelimited"] = sum(1 for c in world.emu.calls() if c.status == 429)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--reports", type=int, default=10)
    parser.add_argument("--limits", type=float, default=None, help="emulator rate-limit factor")
    parser.add_argument("--pace", type=float, default=0.5, help="seconds between reports")
    args = parser.parse_args()
    texts = reports_of(args.data, args.reports)
    for incidents in (True, False):
        result = play(texts, incidents=incidents, limits=args.limits, pace=args.pace)
        mode = "incidents" if incidents else "one by one"
        print(f"## {mode}: {json.dumps(result)}")


if __name__ == "__main__":
    main()
