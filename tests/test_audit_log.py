"""The audit log (SPEC §7): who, what, when and ids, never text; on PostgreSQL the database
itself refuses UPDATE and DELETE on it (migration 0010), and that migration took the text out
of the entries written before it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError

from integrations.store.audit import fingerprint, sha256_hex
from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
from integrations.store.models import AuditEntry, Draft, Request
from tests.conftest import POSTGRES_ADMIN_URL
from tests.harness import World
from workers.ids import ActionId

OLD_REPLY = "Yes, the aardvark ledger exports to parquet."  # what entries quoted before 0010


def test_an_entry_refuses_text_keys() -> None:
    """Seen failing with `@validates("detail")` / `_holds_no_text` removed from AuditEntry."""
    with pytest.raises(ValueError, match="text"):
        AuditEntry(actor="U1", action="reply.posted", detail={"text": "hello"})
    with pytest.raises(ValueError, match="reason"):
        AuditEntry(actor="U1", action="x", detail={"counts": [{"reason": "nested"}]})
    entry = AuditEntry(actor="U1", action="reply.posted", detail=fingerprint(text="hello"))
    assert entry.detail == {"text_sha256": sha256_hex("hello"), "text_length": 5}
    with pytest.raises(ValueError, match="original"):
        entry.detail = {"original": "hello"}


def test_postgres_refuses_update_and_delete_on_the_audit_log(database_url: str) -> None:
    """Seen failing with `op.execute(TRIGGER)` removed from migration 0010's upgrade (the
    UPDATE and the DELETE went through)."""
    engine = create_db_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        request = Request(channel_id="C1", ts="1.0", thread_ts="1.0", user_id="U1", team_id="T1")
        session.add(request)
        session.flush()
        session.add(AuditEntry(actor="U1", action="request.opened", request_id=request.id))
    refused = "audit_log is append-only"
    for statement in (
        update(AuditEntry).values(actor="someone else"),
        delete(AuditEntry),
        text("UPDATE audit_log SET detail = '{}'"),
        text("DELETE FROM audit_log"),
    ):
        with pytest.raises(ProgrammingError, match=refused), transaction(sessions) as session:
            session.execute(statement)
    with pytest.raises(ProgrammingError, match=refused), transaction(sessions) as session:
        session.scalars(select(AuditEntry)).one().detail = {"changed": True}
    # The entry's request cannot go either: its foreign key's SET NULL is an UPDATE.
    with pytest.raises(ProgrammingError, match=refused), transaction(sessions) as session:
        session.execute(delete(Request))
    with transaction(sessions) as session:
        [entry] = session.scalars(select(AuditEntry)).all()
        assert (entry.actor, entry.detail) == ("U1", {})
    engine.dispose()


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty database of our own, for migrating step by step."""
    name = f"triage_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _old_entries(engine: Engine) -> None:
    """Entries as the code before 0010 wrote them (raw SQL: the model refuses them now)."""
    details: list[dict[str, Any]] = [
        {"channel": "C1", "thread_ts": "1.0", "ts": "2.0", "text": OLD_REPLY},
        {"original": "Draft: aardvark", "sent": OLD_REPLY, "diff": "--- draft\n+++ sent"},
        {"reason": "aardvark is not ours"},
        {"cutoff": "2026-01-01", "counts": {"drafts": 2}},
        {"channel": "C1", "purged_at": "2026-01-01"},  # retention already took its text
    ]
    with engine.begin() as connection:
        for detail in details:
            connection.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, detail) "
                    "VALUES (CURRENT_TIMESTAMP, 'U1', 'old', :detail)"
                ),
                {"detail": json.dumps(detail)},
            )


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_the_migration_replaces_old_text_by_its_fingerprint(
    database: str, fresh_postgres: str, tmp_path: Path
) -> None:
    """Seen failing with the `connection.execute(_AUDIT.update()...)` of 0010's upgrade
    removed (the aardvark stayed)."""
    url = fresh_postgres if database == "postgresql" else f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url, "0009")
    engine = create_db_engine(url)
    _old_entries(engine)

    upgrade(url)

    with engine.begin() as connection:
        rows = connection.execute(text("SELECT detail FROM audit_log ORDER BY id")).all()
        details = [json.loads(d) if isinstance(d, str) else d for (d,) in rows]
    assert "aardvark" not in json.dumps(details)
    assert details == [
        {"channel": "C1", "thread_ts": "1.0", "ts": "2.0", **fingerprint(text=OLD_REPLY)},
        fingerprint(original="Draft: aardvark", sent=OLD_REPLY, diff="--- draft\n+++ sent"),
        fingerprint(reason="aardvark is not ours"),
        {"cutoff": "2026-01-01", "counts": {"drafts": 2}},
        {"channel": "C1", "purged_at": "2026-01-01"},
    ]
    if database == "postgresql":
        with pytest.raises(ProgrammingError, match="append-only"), engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_log"))
    engine.dispose()


def test_no_entry_holds_the_customers_or_the_drafts_words(world: World) -> None:
    """A customer's message, its card, an approval and the reply; an edited reply; a
    rejection with a reason: the audit log has every decision and every post, and none of
    their words. Seen failing with `_reply_posted` (workers/delivery.py) writing
    `"text": row.body.get("text", "")` again and `_holds_no_text` removed from AuditEntry
    (which otherwise refuses the entry first)."""
    phrases = {
        "asked": "Does the aardvark ledger export support parquet files?",
        "edited": "Hi, the okapi exporter writes parquet since version 4.",
        "reason": "The wombat team owns exports",
    }
    asked = world.customer_says(phrases["asked"])
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[-1])
    world.drain()
    [reply] = world.replies_in(asked["event"]["ts"])

    second = world.customer_says("Can the pangolin importer read gzip?")
    world.drain()
    world.click(ActionId.EDIT_DRAFT, world.cards()[-1])
    view = world.emu.views()[-1]["view"]
    world.submit_view(view, {"draft_text": {"draft_text_input": phrases["edited"]}})
    world.drain()
    [edited] = world.replies_in(second["event"]["ts"])
    assert edited["text"] == phrases["edited"]

    world.customer_says("Please refund the quokka invoice")
    world.drain()
    world.click(ActionId.REJECT_DRAFT, world.cards()[-1])
    reason = {"reject_reason": {"reject_reason_input": phrases["reason"]}}
    world.submit_view(world.emu.views()[-1]["view"], reason)
    world.drain()

    with transaction(world.deps.sessions) as session:
        drafts = [d.text for d in session.scalars(select(Draft))]
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        actions = [e.action for e in entries]
        details = {e.action: e.detail for e in entries}
        log = json.dumps([[e.actor, e.action, e.detail] for e in entries])
    assert {"draft.approved", "draft.edited", "draft.rejected"} <= set(actions)
    assert actions.count("reply.posted") == 2
    words = [*phrases.values(), "aardvark", "pangolin", "quokka", *drafts]
    assert len(drafts) >= 3 and [w for w in words if w in log] == []
    posted = [e.detail for e in entries if e.action == "reply.posted"]
    assert {p["text_sha256"] for p in posted} == {
        sha256_hex(reply["text"]),
        sha256_hex(edited["text"]),
    }
    assert details["draft.edited"]["sent_sha256"] == sha256_hex(phrases["edited"])
    assert details["draft.rejected"] == fingerprint(reason=phrases["reason"])
