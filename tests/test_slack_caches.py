"""What a busy channel costs in Slack calls once facts are cached and 👀 may wait: the real app,
pipeline and worker against the Slack emulator, PostgreSQL and Redis. The triage channel's
shared check, presence and the workspace URL (permalinks) are asked once for many requests;
👀 is put off when the reactions budget is spent and arrives later, once; a channel shared
since it was cached is refused once the cache has aged out."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select

from integrations.queues import ALL_QUEUES, DELIVERY
from integrations.slack import BudgetedWebClient
from integrations.store.db import transaction
from integrations.store.models import AuditEntry, Request
from sandbox.world import OUTSIDER
from tests.harness import (
    BOT_USER,
    CUSTOMER,
    CUSTOMER_TEAM,
    ORG,
    REPO,
    SHARED,
    TRIAGE,
    World,
    start_world,
    wait_for,
)
from tests.test_suggest import EXPERT, teach
from workers import delivery
from workers.inline import InlineQueues
from workers.process import TriageWorker
from workers.seen import mark_seen, message_permalink

WORKSPACE = (ORG, None)


@pytest.fixture
def busy(database_url: str, redis_url: str) -> Iterator[World]:
    """A world where each customer message is a request of its own (no grouping)."""
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=0) as w:
        yield w


def calls(world: World) -> Counter[str]:
    return Counter(c.method for c in world.emu.calls())


def spend_reactions(world: World) -> None:
    """Take every slot of the reactions.add budget (Tier 3's burst of five)."""
    slack = world.deps.slack
    assert isinstance(slack, BudgetedWebClient)
    while slack.budget.try_acquire("reactions.add").granted:
        pass


def run_due_jobs(world: World) -> None:
    """A burst worker with RQ's scheduler: the scheduled jobs that are due run now."""
    connection = Redis.from_url(world.settings.redis_url)
    queues = [Queue(name, connection=connection) for name in ALL_QUEUES]
    TriageWorker(queues, connection=connection, deps=world.deps).work(
        burst=True, with_scheduler=True, logging_level="WARNING"
    )
    connection.close()


def test_the_cards_of_a_busy_channel_check_it_once(busy: World) -> None:
    busy.emu.clear_calls()
    for n in range(4):
        busy.customer_says(f"Checkout fails for order {n} with error 502")
    busy.drain()
    assert len(busy.cards()) == 4
    assert calls(busy)["conversations.info"] == 1
    ttl = busy.deps.redis.ttl(f"triage:internal-channel:{TRIAGE}")
    assert 0 < int(ttl) <= delivery.INTERNAL_CACHE_SECONDS  # type: ignore[arg-type]


def test_a_channel_shared_since_is_refused_once_its_cache_ages_out(
    busy: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "INTERNAL_CACHE_SECONDS", 1)
    busy.customer_says("First question of the morning: where do I change our billing address?")
    busy.drain()
    assert len(busy.cards()) == 1
    busy.emu.add_channel(
        TRIAGE, "support-triage", is_ext_shared=True, connected_team_ids=[ORG, CUSTOMER_TEAM]
    )
    time.sleep(1.2)
    busy.customer_says("Second question, after someone shared the triage channel")
    busy.drain()
    assert len(busy.cards()) == 1
    with transaction(busy.deps.sessions) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "card.failed"))
        assert entry.detail["error"] == "shared_channel_refused"


def test_presence_and_people_are_asked_once_for_many_requests(busy: World) -> None:
    teach(busy)
    busy.emu.clear_calls()
    for question in ("SAML login via Okta fails", "Okta SAML certificate expired", "SAML loop"):
        busy.customer_says(question)
    busy.drain()
    assert all(f"<@{EXPERT}>" in str(card["blocks"]) for card in busy.cards())
    asked = calls(busy)
    assert (asked["users.getPresence"], asked["users.info"]) == (1, 1)


def test_a_spent_budget_puts_the_eyes_off_and_they_arrive_once(world: World) -> None:
    message = world.emu.post_as_user(SHARED, CUSTOMER, "Is the API down?")
    world.emu.clear_calls()
    spend_reactions(world)
    started = time.monotonic()
    assert mark_seen(world.deps, WORKSPACE, SHARED, message["ts"]) is False
    assert mark_seen(world.deps, WORKSPACE, SHARED, message["ts"]) is False  # a second round
    assert time.monotonic() - started < 0.5  # nothing waited for the budget
    assert calls(world)["reactions.add"] == 0

    registry = Queue(DELIVERY, connection=world.deps.redis).scheduled_job_registry
    [job_id] = registry.get_job_ids()  # scheduled once
    job = Job.fetch(job_id, connection=world.deps.redis)
    assert job.func_name == "workers.seen.add_seen"
    assert job.kwargs == {
        "team_id": ORG,
        "enterprise_id": None,
        "channel": SHARED,
        "ts": message["ts"],
    }
    due = registry.get_scheduled_time(job)
    assert datetime.now(UTC) < due < datetime.now(UTC) + timedelta(seconds=3)

    def arrived() -> bool:
        run_due_jobs(world)
        return bool(world.emu.reactions(SHARED, message["ts"]))

    wait_for(arrived, timeout=10, interval=0.3)
    assert world.emu.reactions(SHARED, message["ts"]) == {"eyes": [BOT_USER]}
    assert calls(world)["reactions.add"] == 1
    run_due_jobs(world)
    assert calls(world)["reactions.add"] == 1 and registry.get_job_ids() == []


def test_deferred_eyes_take_the_budgets_turns_one_each(world: World) -> None:
    """Not all at "when it frees": 400 jobs waking at once, one winning, 399 rescheduled,
    every turn, would keep the workers busy with 👀 while cards wait."""
    messages = [world.emu.post_as_user(SHARED, CUSTOMER, f"Is the API down? {n}") for n in range(4)]
    spend_reactions(world)
    for message in messages:
        assert mark_seen(world.deps, WORKSPACE, SHARED, message["ts"]) is False
    registry = Queue(DELIVERY, connection=world.deps.redis).scheduled_job_registry
    due = sorted(
        registry.get_scheduled_time(Job.fetch(job_id, connection=world.deps.redis))
        for job_id in registry.get_job_ids()
    )
    assert len(due) == 4
    # Tier 3 at 90%: a turn every 1.33 s, so four turns span 4 s (RQ keeps whole seconds).
    assert (due[-1] - due[0]).total_seconds() >= 3, due


def test_the_demos_queues_put_the_eyes_off_too(world: World) -> None:
    message = world.emu.post_as_user(SHARED, CUSTOMER, "Is the API down?")
    inline, queues = InlineQueues(), world.deps.queues
    inline.bind(world.deps)
    world.deps.queues = inline
    try:
        spend_reactions(world)
        assert mark_seen(world.deps, WORKSPACE, SHARED, message["ts"]) is False
        assert inline.wait_scheduled(datetime.now(UTC) + timedelta(seconds=3), timeout=10)
    finally:
        world.deps.queues = queues
        inline.close()
    assert world.emu.reactions(SHARED, message["ts"]) == {"eyes": [BOT_USER]}


def test_eyes_already_there_count_as_seen(world: World) -> None:
    message = world.emu.post_as_user(SHARED, CUSTOMER, "Hello?")
    assert mark_seen(world.deps, WORKSPACE, SHARED, message["ts"]) is True
    assert mark_seen(world.deps, WORKSPACE, SHARED, message["ts"]) is True  # already_reacted
    assert world.emu.reactions(SHARED, message["ts"]) == {"eyes": [BOT_USER]}


def test_permalinks_are_built_from_the_workspace_url(world: World) -> None:
    parent = world.emu.post_as_user(SHARED, CUSTOMER, "Our exports fail")
    reply = world.emu.post_as_user(SHARED, CUSTOMER, "since 9:00", thread_ts=parent["ts"])
    world.emu.clear_calls()
    url = str(world.deps.slack.auth_test()["url"])
    links = [
        message_permalink(world.deps, WORKSPACE, SHARED, parent["ts"]),
        message_permalink(world.deps, WORKSPACE, SHARED, reply["ts"], thread_ts=parent["ts"]),
        message_permalink(world.deps, WORKSPACE, SHARED, parent["ts"]),
    ]
    stamp, reply_stamp = parent["ts"].replace(".", ""), reply["ts"].replace(".", "")
    assert links == [
        f"{url}archives/{SHARED}/p{stamp}",
        f"{url}archives/{SHARED}/p{reply_stamp}?thread_ts={parent['ts']}&cid={SHARED}",
        f"{url}archives/{SHARED}/p{stamp}",
    ]
    assert calls(world) == Counter({"auth.test": 2})  # the test's own, then one cached


def test_without_the_workspace_url_permalinks_are_asked_for(world: World) -> None:
    message = world.emu.post_as_user(SHARED, CUSTOMER, "Our exports fail")
    world.emu.clear_calls()
    world.emu.fail("auth.test", error="internal_error")
    link = message_permalink(world.deps, WORKSPACE, SHARED, message["ts"])
    assert link is not None and link.endswith(
        f"/archives/{SHARED}/p{message['ts'].replace('.', '')}"
    )
    assert calls(world) == Counter({"auth.test": 1, "chat.getPermalink": 1})


def test_account_owners_are_looked_up_by_email_once_for_many_customers(
    database_url: str, redis_url: str
) -> None:
    """The context is cached per channel and customer; the owner behind it is the same person
    for every customer of the account, and users.lookupByEmail is Tier 3."""
    accounts = str(REPO / "sandbox" / "accounts.yaml")  # Globex's owner: amy@acme.test
    with start_world(
        database_url=database_url, redis_url=redis_url, accounts_file=accounts
    ) as world:
        users = [f"UCUST{n:04d}" for n in range(3)]
        for user in users:
            world.emu.add_user(user, team_id=CUSTOMER_TEAM, name=user.lower(), real_name=user)
            world.emu.add_member(SHARED, user)
        world.emu.clear_calls()
        for user in users:
            world.customer_says("Where do I find the export settings?", user=user)
        world.drain()
        assert len(world.cards()) == 3
        looked_up = [c.args["email"] for c in world.emu.calls("users.lookupByEmail")]
        assert sorted(set(looked_up)) == sorted(looked_up)  # each email at most once
        assert "amy@acme.test" in looked_up


def test_a_spent_users_info_budget_sends_the_context_without_the_contact(
    database_url: str, redis_url: str
) -> None:
    """users.info is Tier 4 and each new customer needs one: when a burst has spent it, the
    account's context goes out without the writer's Contact instead of waiting, and is not
    cached that way."""
    accounts = str(REPO / "sandbox" / "accounts.yaml")  # Carol is a Contact of Globex
    with start_world(
        database_url=database_url, redis_url=redis_url, accounts_file=accounts
    ) as world:
        slack = world.deps.slack
        assert isinstance(slack, BudgetedWebClient)
        slack.budget.hold("users.info", None, 2.5)  # as after Slack's 429 with Retry-After: 2.5
        world.customer_says("Where do I find the export settings?")
        world.drain()
        assert len(world.cards()) == 1

        time.sleep(2.6)  # the Retry-After is over: the Contact is looked up this time
        world.customer_says("And where are the JSON ones?", user=OUTSIDER)
        world.drain()
        with transaction(world.deps.sessions) as session:
            contexts = session.scalars(select(Request.context).order_by(Request.id)).all()
        contacts = [(c or {}).get("account", {}).get("contact") for c in contexts]
        assert [bool(c) for c in contacts] == [False, True], contacts
