"""CSAT (SPEC §6.7): the question in the customer's thread after an answer, once; never for a
request withdrawn or reopened meanwhile, nor for a tier outside CSAT_TIERS; each customer's
click stored once (a second changes it), our people's clicks never; and a question whose
scheduled job was lost with its worker is still asked, once.

As in test_sla, the sweeper's recovery is given the moment to check at (`now=`) instead of
the test sleeping until the question is due; only the test with real workers waits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from integrations.deps import Deps
from integrations.queues import DELIVERY
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, OutboxMessage
from sandbox.slack_events import message_deleted_envelope
from tests.csat_world import (
    EN,
    MINUTES,
    answered,
    click,
    counted,
    questions,
    start_csat_world,
    survey,
    surveys,
    votes,
)
from tests.harness import (
    APPROVER,
    BOT_USER,
    CUSTOMER,
    CUSTOMER_TEAM,
    INITECH,
    ORG,
    OUTSIDER,
    SHARED,
    World,
    kill_group,
    wait_for,
)
from tests.incident_world import SSO, customer, incident_cards, incident_world, says, submit_update
from workers.csat import ask_now, recover_surveys
from workers.ids import ActionId


@pytest.fixture
def csat_world(database_url: str, redis_url: str) -> Iterator[World]:
    with start_csat_world(database_url, redis_url) as world:
        yield world


def test_the_question_comes_once_after_an_approved_answer(csat_world: World) -> None:
    """Without `csat.KIND` in delivery's CUSTOMER_KINDS the question is refused as an internal
    note bound for a shared channel, and never posted: this test fails."""
    world = csat_world
    thread = answered(world)
    due = survey(world).due_at
    assert recover_surveys(world.deps, now=due - timedelta(seconds=0.5)) == 0  # not yet
    world.drain()
    assert questions(world, thread) == []

    assert recover_surveys(world.deps, now=due) == 1
    for _ in range(3):  # the sweeper, and the scheduled job, as often as they like
        recover_surveys(world.deps, now=due + timedelta(seconds=1))
        ask_now(world.deps, survey(world).request_id, now=due + timedelta(seconds=1))
        world.drain()
    [question] = questions(world, thread)
    assert question["bot_id"] and question["thread_ts"] == thread
    buttons = json.dumps(question["blocks"])
    assert ActionId.CSAT_GOOD in buttons and ActionId.CSAT_BAD in buttons
    asked = survey(world)
    assert asked.asked_at is not None and asked.cancelled_at is None
    with transaction(world.deps.sessions) as session:
        [row] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "csat")).all()
        assert row.id == asked.outbox_id and row.result_ts == question["ts"]
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "csat.asked"))


def test_the_scheduled_check_waits_in_rq_until_the_question_is_due(csat_world: World) -> None:
    """The answer schedules the check with RQ's scheduler at the moment the question is due."""
    world = csat_world
    answered(world)
    due = survey(world).due_at
    connection = Redis.from_url(world.settings.redis_url)
    registry = ScheduledJobRegistry(queue=Queue(DELIVERY, connection=connection))
    scheduled = [registry.get_scheduled_time(job) for job in registry.get_job_ids()]
    connection.close()
    [at] = [when for when in scheduled if abs((when - due).total_seconds()) < 1]
    assert at >= due - timedelta(seconds=1)


def test_each_customer_counts_once_and_our_people_not_at_all(csat_world: World) -> None:
    """Removing the `is_our_person` check in app/listeners/csat.py stores the approver's click
    as a vote; storing a second click as a new row instead of changing the first fails the
    unique (request, person) constraint: this test fails either way."""
    world = csat_world
    thread = answered(world)
    recover_surveys(world.deps, now=survey(world).due_at)
    world.drain()
    [question] = questions(world, thread)
    good, bad = counted("good"), counted("bad")

    told = click(world, question, ActionId.CSAT_GOOD, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert told["text"] == EN.thanks and votes(world) == [(CUSTOMER, "good")]
    told = click(world, question, ActionId.CSAT_BAD, user=CUSTOMER, team=CUSTOMER_TEAM)
    assert told["text"] == EN.changed and votes(world) == [(CUSTOMER, "bad")]
    click(world, question, ActionId.CSAT_BAD, user=CUSTOMER, team=CUSTOMER_TEAM)  # again
    click(world, question, ActionId.CSAT_GOOD, user=OUTSIDER, team=CUSTOMER_TEAM)  # a colleague
    assert votes(world) == [(CUSTOMER, "bad"), (OUTSIDER, "good")]

    told = click(world, question, ActionId.CSAT_GOOD, user=APPROVER, team=ORG)
    assert told["text"] == EN.not_counted
    assert votes(world) == [(CUSTOMER, "bad"), (OUTSIDER, "good")]
    assert (counted("good"), counted("bad")) == (good + 2, bad + 1)  # each stored click
    # The question stays for the customer's colleagues; nothing was posted in the thread.
    assert questions(world, thread) == [question] and len(world.replies_in(thread)) == 2


def test_a_colleagues_answer_in_the_thread_is_asked_about_too(csat_world: World) -> None:
    world = csat_world
    body = world.customer_says("Can we get an invoice with our VAT number on it?")
    world.drain()
    thread = str(body["event"]["ts"])
    world.customer_says("Yes: Billing, Details, VAT.", user=APPROVER, team=ORG, thread_ts=thread)
    world.drain()
    assert recover_surveys(world.deps, now=survey(world).due_at) == 1
    world.drain()
    assert len(questions(world, thread)) == 1


def test_a_request_withdrawn_after_its_answer_is_never_asked(csat_world: World) -> None:
    """Removing the deleted-message check (`_deleted` in `why_not`, workers/csat.py) asks
    about a thread whose question the customer deleted: this test fails."""
    world = csat_world
    body = world.customer_says("Our API key leaked, how do we rotate it?")
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[0])
    world.drain()
    deleted = message_deleted_envelope(
        body["event"],
        channel=SHARED,
        installed_team_id=ORG,
        bot_user_id=BOT_USER,
        is_ext_shared_channel=True,
        author_team_id=CUSTOMER_TEAM,
    )
    assert world.send(deleted)[0] == 200
    world.drain()
    recover_surveys(world.deps, now=survey(world).due_at)
    world.drain()
    assert questions(world, str(body["event"]["ts"])) == []
    cancelled = survey(world)
    assert cancelled.asked_at is None and cancelled.cancelled_why == "withdrawn"


@pytest.mark.parametrize(
    ("follow_up", "asked"),
    [("It still fails with the same error after that change.", False), ("Thanks!", True)],
)
def test_a_request_reopened_after_its_answer_is_never_asked(
    csat_world: World, follow_up: str, asked: bool
) -> None:
    """The customer writes again in the thread: a new question, not asked about; a "thanks"
    is not one. Removing `_reopened` in `why_not` (workers/csat.py) asks the first; removing
    its `no_action` condition does not ask the second: this test fails either way."""
    world = csat_world
    thread = answered(world, "The CSV export times out on large reports")
    world.customer_says(follow_up, thread_ts=thread)
    world.drain()  # the follow-up is triaged: a new request, or a "thanks" closed
    recover_surveys(world.deps, now=survey(world).due_at)
    world.drain()
    assert len(questions(world, thread)) == (1 if asked else 0)
    assert survey(world).cancelled_why == (None if asked else "reopened")


def test_a_tier_outside_csat_tiers_is_never_asked(database_url: str, redis_url: str) -> None:
    """CSAT_TIERS=premium: Initech (premium) is asked, Globex (enterprise) is not even given
    a question. Removing the `surveyed` check from `ask_later` (workers/csat.py) gives Globex
    one: this test fails."""
    with start_csat_world(database_url, redis_url, csat_tiers="premium") as world:
        globex = answered(world)
        initech = world.initech_says("Where can I download our usage report?")
        world.drain()
        world.click(ActionId.APPROVE_DRAFT, world.cards()[-1])
        world.drain()
        due = survey(world).due_at  # only one: Initech's
        assert recover_surveys(world.deps, now=due + timedelta(seconds=1)) == 1
        world.drain()
        assert questions(world, globex) == []
        assert len(questions(world, str(initech["event"]["ts"]), INITECH)) == 1


@pytest.mark.parametrize(
    ("changed", "why"), [({"csat_tiers": ["premium"]}, "tier"), ({"csat_after_minutes": 0}, "off")]
)
def test_a_setting_changed_before_the_question_is_due_is_obeyed(
    csat_world: World, changed: dict[str, Any], why: str
) -> None:
    """A tier taken out of CSAT_TIERS, or CSAT turned off, after the answer: the workers that
    run at the moment it is due (started with the new settings) do not ask. Removing the
    `surveyed` check from `why_not` (workers/csat.py) asks the tier taken out: this test
    fails."""
    world = csat_world
    thread = answered(world)
    restarted = Deps.build(world.settings.model_copy(update=changed))
    try:
        recover_surveys(restarted, now=survey(world).due_at)
    finally:
        restarted.close()
    world.drain()
    assert questions(world, thread) == []
    assert survey(world).cancelled_why == why


def test_an_incidents_reports_are_asked_after_its_closing_update(
    database_url: str, redis_url: str
) -> None:
    """Three accounts' reports answered by an incident update: no question while the incident
    is open (the outage goes on), one in each thread after the closing update. Removing the
    open-incident wait from `ask_now` and from `recover_surveys`' query (workers/csat.py) asks
    during the outage: this test fails."""
    with incident_world(database_url, redis_url, csat_after_minutes=MINUTES) as world:
        people = [customer(world, n) for n in range(3)]
        reports = [says(world, who, text) for who, text in zip(people, SSO, strict=False)]
        threads = [str(report["event"]["ts"]) for report in reports]
        world.drain()
        [card] = incident_cards(world)
        submit_update(world, card, ActionId.INCIDENT_UPDATE, None)
        world.drain()
        first_due = max(s.due_at for s in surveys(world))
        assert recover_surveys(world.deps, now=first_due + timedelta(minutes=5)) == 0
        world.drain()
        assert all(s.asked_at is None and s.cancelled_at is None for s in surveys(world))

        submit_update(world, incident_cards(world)[0], ActionId.INCIDENT_RESOLVE, None)
        world.drain()
        moved = surveys(world)
        assert len(moved) == 3 and min(s.due_at for s in moved) > first_due
        assert recover_surveys(world.deps, now=max(s.due_at for s in moved)) == 3
        world.drain()
        for who, thread in zip(people, threads, strict=True):
            assert len(questions(world, thread, who["channel"])) == 1


@pytest.mark.slow
def test_a_question_whose_worker_died_is_asked_once_by_the_next(
    database_url: str, redis_url: str
) -> None:
    """The worker that sent the answer is SIGKILLed, and its scheduled check is lost with
    Redis's registry; the next worker's sweeper asks, once. Removing `recover_surveys` from
    the sweeper's tick (workers/sweeper.py) never asks: this test fails."""
    # 12 s: the first worker is gone well before the question is due
    with start_csat_world(database_url, redis_url, csat_after_minutes=0.2) as world:
        first = world.start_worker("csat-worker-1")
        body = world.customer_says("Is there a sandbox environment we can test against?")
        [card] = wait_for(world.cards, timeout=20)
        world.click(ActionId.APPROVE_DRAFT, card)
        thread = str(body["event"]["ts"])
        wait_for(lambda: world.replies_in(thread), timeout=20)
        connection = Redis.from_url(world.settings.redis_url)
        registry = ScheduledJobRegistry(queue=Queue(DELIVERY, connection=connection))
        [lost] = wait_for(lambda: [j for j in registry.get_job_ids() if j.startswith("csat-")])
        kill_group(first)  # the worker and its RQ scheduler, as an OOM kill would
        registry.remove(lost)  # and the scheduled check, lost with them
        connection.delete(f"rq:job:{lost}")
        connection.close()
        assert survey(world).asked_at is None

        world.start_worker("csat-worker-2")
        wait_for(lambda: questions(world, thread), timeout=30)
        time.sleep(3)  # several sweeps later: still once
        assert len(questions(world, thread)) == 1
        assert survey(world).asked_at is not None
