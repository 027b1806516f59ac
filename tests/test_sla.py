"""SLA clocks (SPEC §6.3) on a clock of seconds: reminder and breach once each, in business
hours only, not at all after an answer, and still once after a worker is SIGKILLed.

The sweeper's recovery is given the moment to check at (`now=`) instead of the test sleeping
until the deadline; only the test with a real worker and RQ's scheduler waits for real time."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from integrations.business_hours import DAYS
from integrations.store.db import transaction
from integrations.store.models import SlaClock
from sandbox.world import (
    APPROVER,
    BOT_USER,
    CUSTOMER,
    CUSTOMER_TEAM,
    ORG,
    SHARED,
    TRIAGE,
    permalink,
)
from tests import salesforce_world
from tests.harness import World, children, start_world, wait_for
from tests.salesforce_world import Org, auth_settings
from workers.ids import ActionId
from workers.sla import recover_clocks

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures

ESCALATIONS = "C0ESCALATE"
ALWAYS = "mon-sun 00:00-24:00 UTC"


@pytest.fixture
def sla_world(
    request: pytest.FixtureRequest, database_url: str, redis_url: str, org: Org
) -> Iterator[World]:
    """Globex is an enterprise account; `minutes` (a test's param) is its SLA."""
    minutes, hours = getattr(request, "param", (0.05, ALWAYS))
    with _world(database_url, redis_url, org, minutes, hours) as world:
        yield world


@contextmanager
def _world(
    database_url: str, redis_url: str, org: Org, minutes: float, hours: str
) -> Iterator[World]:
    with start_world(
        database_url=database_url,
        redis_url=redis_url,
        grouping_minutes=0,
        escalation_channel=ESCALATIONS,
        sla_minutes=f"enterprise={minutes},standard=240",
        business_hours=hours,
        **auth_settings(org, "access token"),
    ) as world:
        world.emu.add_channel(ESCALATIONS, "escalations", members=[BOT_USER, APPROVER])
        yield world


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and its children (RQ runs its scheduler in a forked process)."""
    for pid in (process.pid, *children(process.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


def reminders(world: World) -> list[dict[str, Any]]:
    [card] = world.cards()
    thread = world.emu.messages(TRIAGE, thread_ts=card["ts"])
    return [m for m in thread if m.get("bot_id") and "⏰" in m.get("text", "")]


def breaches(world: World) -> list[dict[str, Any]]:
    return [m for m in world.emu.messages(ESCALATIONS) if "SLA breached" in m.get("text", "")]


def clock(world: World) -> SlaClock:
    row = maybe_clock(world)
    assert row is not None, "no SLA clock"
    return row


def maybe_clock(world: World) -> SlaClock | None:
    with transaction(world.deps.sessions) as session:
        row = session.scalars(select(SlaClock)).first()
        if row is not None:
            session.expunge(row)
        return row


def breach_count() -> float:
    return REGISTRY.get_sample_value("triage_sla_breaches_total") or 0.0


def test_the_reminder_and_the_breach_arrive_once_each(sla_world: World) -> None:
    world = sla_world
    world.customer_says("Our dashboards have not loaded since this morning")
    world.drain()  # the pipeline posts the card and starts the clock; no scheduler here
    started = clock(world)
    assert started.tier == "enterprise"
    assert started.deadline_at - started.started_at == timedelta(seconds=3)
    assert "first response due" in json.dumps(world.cards()[0]["blocks"])
    before = breach_count()

    # At 75% of the target the reminder, and only the reminder; nothing a moment before.
    assert recover_clocks(world.deps, now=started.remind_at - timedelta(seconds=0.1)) == 0
    assert recover_clocks(world.deps, now=started.remind_at) == 1
    world.drain()
    assert len(reminders(world)) == 1 and breaches(world) == []
    after_deadline = started.deadline_at + timedelta(seconds=0.2)
    for _ in range(3):  # the sweeper's recovery, as often as it likes
        recover_clocks(world.deps, now=after_deadline)
        world.drain()
    [reminder] = reminders(world)
    assert "<@U0AMY>" in reminder["text"]  # the account owner, from Salesforce
    [breach] = breaches(world)
    assert "enterprise tier" in breach["text"]
    assert breach_count() == before + 1
    assert "SLA (enterprise) breached" in json.dumps(world.cards()[0]["blocks"])

    # `/triage status`: the queue by urgency, with the breached request linked; ours only.
    ack = triage_status(world, user=APPROVER, team=ORG)
    assert ack["response_type"] == "ephemeral" and "*1 open request*" in ack["text"]
    assert "*🔥 Breached* (1):" in ack["text"] and "|#1>" in ack["text"]
    card_link = permalink(world.emu, TRIAGE, world.cards()[0]["ts"])  # as chat.getPermalink
    row = ack["blocks"][1]["text"]["text"]
    assert (
        row.startswith(f"<{card_link}|#1> *Globex Corporation* in <#{SHARED}> · ")
        and "🔥 breached" in row
    )
    refused = triage_status(world, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert "Only people of the organisation" in refused["text"]


def triage_status(world: World, *, user: str, team: str) -> dict[str, Any]:
    body, _ = world.emu.slash_command("/triage", "status", user=user, team=team, channel=SHARED)
    started = time.monotonic()
    status, raw = world.send(body)
    assert status == 200 and time.monotonic() - started < 3
    return dict(json.loads(raw))


@pytest.mark.parametrize("sla_world", [(0.05, ALWAYS)], indirect=True)
@pytest.mark.parametrize("answer", ["colleague", "approval"])
def test_an_answer_first_stops_the_clock(sla_world: World, answer: str) -> None:
    world = sla_world
    body = world.customer_says("How do I export last month's invoices?")
    world.drain()
    if answer == "colleague":
        world.customer_says(
            "Billing → Export, pick the month.",
            user=APPROVER,
            team=ORG,
            thread_ts=body["event"]["ts"],
        )
    else:
        world.click(ActionId.APPROVE_DRAFT, world.cards()[0])
    world.drain()
    stopped = clock(world)
    assert stopped.stopped_at is not None and stopped.stopped_by == APPROVER
    assert recover_clocks(world.deps, now=stopped.deadline_at + timedelta(seconds=0.2)) == 0
    world.drain()
    assert reminders(world) == [] and breaches(world) == []


def test_outside_business_hours_the_clock_waits(
    database_url: str, redis_url: str, org: Org
) -> None:
    # Business hours only on the day after tomorrow: today's request waits for it.
    later = datetime.now(UTC) + timedelta(days=2)
    hours = f"{DAYS[later.weekday()]} 00:00-24:00 UTC"
    with _world(database_url, redis_url, org, 0.05, hours) as world:
        world.customer_says("Is there a sandbox environment we can test against?")
        world.drain()
        waiting = clock(world)
        assert waiting.deadline_at == datetime.combine(
            later.date(), datetime.min.time(), UTC
        ) + timedelta(seconds=3)
        assert recover_clocks(world.deps, now=datetime.now(UTC) + timedelta(seconds=3.5)) == 0
        world.drain()
        assert reminders(world) == [] and breaches(world) == []


@pytest.mark.slow
@pytest.mark.parametrize("sla_world", [(0.2, ALWAYS)], indirect=True)
def test_a_pending_reminder_fires_once_after_the_worker_is_killed(sla_world: World) -> None:
    world = sla_world
    worker = world.start_worker("sla-worker-1")
    world.wait_warmed_up("sla-worker-1")  # the clock starts with the message, not the worker
    world.customer_says("Our SSO login loops back to the start page")
    wait_for(world.cards, timeout=20)
    wait_for(lambda: maybe_clock(world), timeout=10)
    running = clock(world)
    assert running.reminded_at is None  # the reminder is still ahead (at 75% of 12 s)
    kill_tree(worker)  # the worker and its RQ scheduler process, as an OOM kill would

    restarted = world.start_worker("sla-worker-2")
    wait_for(lambda: reminders(world), timeout=20)
    wait_for(lambda: breaches(world), timeout=20)
    time.sleep(3)  # several sweeps and any scheduled jobs later: still once each
    assert len(reminders(world)) == 1 and len(breaches(world)) == 1
    fired = clock(world)
    assert fired.reminded_at is not None and fired.breached_at is not None
    assert fired.reminded_at >= running.remind_at and fired.breached_at >= running.deadline_at
    kill_tree(restarted)  # RQ's scheduler child would outlive the harness's kill
    # The customer's channel got nothing from the clock.
    assert not [m for m in world.emu.messages(SHARED) if "SLA" in m.get("text", "")]
