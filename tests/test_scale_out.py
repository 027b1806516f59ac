"""Scaled out, nothing is posted twice: two `triage serve` and four `triage worker` processes on
one Redis and one PostgreSQL, and Slack delivering some events twice, to different servers.

The outage-morning burst of bench/burst.py, smaller: each customer message's event goes to one
of the two servers at random, and about a third of them again right after to the other one
with `X-Slack-Retry-Num` (Slack's retry when an ack seems late), so both servers store the same
event at the same moment. Slack's limits are enforced (at 20× so the test stays short), so
posts and 👀 also meet 429s and retries across processes. Every customer message must get
exactly one card and one 👀, every POST a 200.
"""

from __future__ import annotations

import pytest

from bench.burst import Options, run_burst
from bench.burst_report import report

pytestmark = pytest.mark.slow


def test_two_servers_four_workers_and_redeliveries_post_each_card_once(
    database_url: str, redis_url: str
) -> None:
    outcome = run_burst(
        Options(
            messages=60,
            channels=10,
            serves=2,
            web_workers=1,
            workers=4,
            model=False,
            limits=20,
            redeliver=0.35,
            database_url=database_url,
            redis_url=redis_url,
            timeout=45,
        )
    )
    m = outcome.measured
    said = report(outcome, command="tests/test_scale_out.py")
    redelivered = [a for a in m.acks if a.retry]
    assert len(redelivered) >= 10  # the seeded draw: enough to race, each to the other server
    assert {a.url for a in m.acks if not a.retry} == {a.url for a in redelivered}  # both served
    assert m.problems == [], said
    assert m.messages == m.requests == len(m.card_times) == 60, said
    assert set(m.cards_of.values()) == {1}, said
    assert set(m.eyes_of.values()) == {1}, said
    assert all(a.status == 200 for a in m.acks), said
