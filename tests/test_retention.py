"""Retention (SPEC §7): text older than RETENTION_DAYS goes, the numbers and the report stay,
the audit log records each purge (and is never edited: on PostgreSQL its trigger refuses),
and work in flight keeps its words. On PostgreSQL through the real app, and on SQLite with two
weeks of history."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import select, update
from sqlalchemy import text as sql
from sqlalchemy.orm import Session, sessionmaker

from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
from integrations.store.models import (
    AuditEntry,
    Base,
    EventKind,
    OutboxMessage,
    OutboxState,
    Request,
    RequestState,
    SlackEvent,
    UTCDateTime,
)
from sandbox.report_history import seed_history
from tests.harness import APPROVER_2, CUSTOMER, ORG, World, triage_cli, wait_for
from tests.test_feedback import answer, react
from workers.ids import ActionId
from workers.report import build_report
from workers.retention import ACTION, BATCH_ACTION, LOCK_KEY, purge_expired_text

DAYS = 90  # RETENTION_DAYS' default
NOW = datetime.now(UTC)


def age(sessions: sessionmaker[Session], days: float) -> None:
    """Move every stored time back `days` days, as if all of it had happened then; but the
    audit log's, which PostgreSQL refuses to change (and retention never reads)."""
    with transaction(sessions) as session:
        for mapper in Base.registry.mappers:
            if mapper.class_ is AuditEntry:
                continue
            columns = mapper.column_attrs
            keys = [p.key for p in columns if isinstance(p.columns[0].type, UTCDateTime)]
            for row in session.scalars(select(mapper.class_)):
                for key in keys:
                    if (value := getattr(row, key)) is not None:
                        setattr(row, key, value - timedelta(days=days))


def stored(sessions: sessionmaker[Session]) -> str:
    """Everything in the database as one string, to look for words in."""
    with transaction(sessions) as session:
        tables = Base.metadata.tables.values()
        return "\n".join(repr(session.execute(select(t)).all()) for t in tables)


def report(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """`triage report`'s numbers over everything stored, as of one fixed moment."""
    with transaction(sessions) as session:
        return asdict(build_report(session, since=NOW - timedelta(days=400), now=NOW))


def purges(sessions: sessionmaker[Session], action: str = ACTION) -> list[dict[str, Any]]:
    with transaction(sessions) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [e.detail for e in entries]


def append_only(sessions: sessionmaker[Session]) -> bool:
    """Whether migration 0010's trigger guards the audit log (PostgreSQL)."""
    with transaction(sessions) as session:
        found = session.execute(
            sql("SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_append_only'")
        )
        return found.first() is not None


def test_old_text_goes_young_text_stays_and_the_report_is_unchanged(world: World) -> None:
    """On PostgreSQL with the audit log's trigger in place: the run only ever adds entries.
    Seen failing with `_audit` updating its entry again (`session.get_one(AuditEntry,
    entry_id).detail = detail`, as before 0010): PostgreSQL refused the UPDATE."""
    sessions = world.deps.sessions
    assert append_only(sessions)
    asked = world.customer_says("Does the zebra importer accept gzip archives?")
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[-1])  # sent as it was
    world.drain()
    [reply] = world.replies_in(asked["event"]["ts"])
    react(world, reply["ts"], CUSTOMER)  # 👍
    answer(world, "Can walrus dashboards be embedded?", "Yes: narwhal iframes work.")  # edited
    world.customer_says("Please refund the okapi invoice")
    world.drain()
    world.click(ActionId.REJECT_DRAFT, world.cards()[-1])
    reason = {"reject_reason": {"reject_reason_input": "not ours"}}
    world.submit_view(world.emu.views()[-1]["view"], reason)
    thread = world.customer_says("Is quokka sync realtime?")["event"]["ts"]
    world.customer_says("Yes, every platypus second.", user=APPROVER_2, team=ORG, thread_ts=thread)
    world.drain()
    age(sessions, DAYS + 10)
    world.customer_says("Where is the pangolin setting?")  # young, and still open
    world.drain()
    before = report(sessions)
    old = ["zebra", "walrus", "narwhal", "okapi", "quokka", "platypus"]
    assert all(word in stored(sessions) for word in old)

    purged = purge_expired_text(sessions, retention_days=DAYS, batch_size=2)

    assert report(sessions) == before
    team = before["team"]
    assert (team["requests"], team["approved_unchanged"], team["approved_edited"]) == (5, 1, 1)
    assert (team["rejected"], team["thumbs_up"]) == (1, 1)
    text = stored(sessions)
    assert [word for word in old if word in text] == []
    assert "pangolin" in text
    assert purged.counts["request_messages"] == 4 and purged.counts["drafts"] >= 3
    assert purged.counts["outbox"] >= 6 and "audit_log" not in purged.counts
    assert purged.counts["expertise_evidence"] == 3 and purged.counts["slack_events"] >= 5
    [entry] = purges(sessions)
    assert entry == {
        "run": entry["run"],
        "cutoff": purged.cutoff.isoformat(),
        "retention_days": DAYS,
        "counts": purged.counts,
        "seconds": entry["seconds"],
    }
    batches = purges(sessions, BATCH_ACTION)  # one per committed batch, each its own entry
    assert {b["run"] for b in batches} == {entry["run"]} and len(batches) >= purged.total / 2
    assert {t: sum(b["rows"] for b in batches if b["table"] == t) for t in purged.counts} == (
        purged.counts
    )
    with transaction(sessions) as session:
        old_requests = session.scalars(select(Request).where(Request.summary.is_(None))).all()
        assert len(old_requests) == 4 and all(r.category and r.urgency for r in old_requests)
        reactions = session.scalars(select(SlackEvent).where(SlackEvent.kind == EventKind.REACTION))
        assert all(event.payload for event in reactions)  # who gave 👍: no text, still needed

    again = purge_expired_text(sessions, retention_days=DAYS)
    assert again.total == 0 and len(purges(sessions)) == 1  # nothing purged, nothing recorded
    assert report(sessions) == before


def test_work_in_flight_keeps_its_words(world: World) -> None:
    sessions = world.deps.sessions
    asked = world.customer_says("Is there a capybara plan?")
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[-1])
    world.drain()
    world.customer_says("The tapir export never finished")  # open: its card can still send
    world.drain()
    age(sessions, DAYS + 10)
    with transaction(sessions) as session:  # a message about the answered one, not yet sent
        answered = session.scalars(select(Request).where(Request.ts == asked["event"]["ts"])).one()
        assert answered.state == RequestState.ANSWERED
        pending = OutboxMessage(
            dedupe_key="test:pending",
            kind="reply",
            request_id=answered.id,
            channel_id=answered.channel_id,
            body={"text": "capybara follow-up"},
            created_at=datetime.now(UTC) - timedelta(days=DAYS + 10),
        )
        session.add(pending)

    purge_expired_text(sessions, retention_days=DAYS)
    text = stored(sessions)
    assert "tapir" in text and "capybara plan" in text and "capybara follow-up" in text

    with transaction(sessions) as session:
        session.get_one(OutboxMessage, pending.id).state = OutboxState.SENT
    purge_expired_text(sessions, retention_days=DAYS)
    text = stored(sessions)
    assert "tapir" in text and "capybara" not in text


def test_one_worker_purges_in_the_background(world: World) -> None:
    world.customer_says("How do I rotate the ocelot key?")
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[-1])
    world.drain()
    age(world.deps.sessions, DAYS + 1)
    logs = [f"retention-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in logs:
        world.start_worker(name)
    wait_for(lambda: purges(world.deps.sessions), timeout=30)
    assert "ocelot" not in stored(world.deps.sessions)
    time.sleep(3 * world.settings.sweep_seconds)  # both workers' sweepers come round again
    runs = [
        line
        for name in logs
        for line in (Path(world.env["TRIAGE_TEST_LOG_DIR"]) / f"{name}.log")
        .read_text()
        .splitlines()
        if '"event": "retention.purged"' in line
    ]
    assert len(runs) == 1  # the lock let one worker do it, once
    redis = Redis.from_url(world.settings.redis_url)
    assert 3000 < redis.ttl(LOCK_KEY) <= 3600  # and nobody runs it again within the hour
    redis.close()


def _history(url: str) -> sessionmaker[Session]:
    upgrade(url)
    sessions = session_factory(create_db_engine(url))
    with transaction(sessions) as session:
        seed_history(session, days=14)
        people = [{"user_id": "U0BEN", "reason": "answered 2 similar questions about gzip"}]
        session.execute(update(Request).values(suggestions={"status": "ok", "people": people}))
    age(sessions, DAYS)
    return sessions


def test_small_batches_on_sqlite_purge_the_same_and_record_one_run(tmp_path: Any) -> None:
    whole = _history(f"sqlite:///{tmp_path / 'whole.db'}")
    batched = _history(f"sqlite:///{tmp_path / 'batched.db'}")
    before = report(batched)
    assert before["team"]["approved_edited"] > 0 and before["team"]["approved_unchanged"] > 0

    dry = purge_expired_text(batched, retention_days=DAYS, batch_size=3, dry_run=True)
    assert purges(batched) == [] and "Edited text." in stored(batched)
    one = purge_expired_text(whole, retention_days=DAYS)
    three = purge_expired_text(batched, retention_days=DAYS, batch_size=3)

    assert dry.counts == one.counts == three.counts and three.counts["drafts"] == 69
    assert report(batched) == report(whole) == before
    assert [p["counts"] for p in purges(batched)] == [three.counts]
    text = stored(batched)
    assert "question 1" not in text and "Draft text." not in text and "Edited text." not in text
    assert "gzip" not in text and "U0BEN" in text  # who was suggested stays, not the topic
    assert purge_expired_text(batched, retention_days=DAYS, batch_size=3).total == 0


def test_the_cli_prints_what_it_purged(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    _history(url)
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "100", "RETENTION_DAYS": str(DAYS)}

    def purge(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return triage_cli("purge", *args, env={**env, **extra})

    dry = purge("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would purge text older than")
    assert re.search(r"request_messages\s+│\s+69 │", dry.stdout), dry.stdout
    done = purge()
    assert done.stdout.startswith("Purged text older than")
    assert re.search(r"drafts\s+│\s+69 │", done.stdout), done.stdout
    assert re.search(r"total\s+│\s+0 │", purge().stdout)  # nothing left to purge
    refused = purge(RETENTION_DAYS="0")
    assert refused.returncode == 2 and "RETENTION_DAYS is invalid" in refused.stderr
