"""Retrieval through the index finds what the in-memory ranking found, and more: the same
examples with the same scores, the oldest answer among hundreds (the newest 500 were all that
was searched before), never another account's answer; the migration fills the index from the
rows already stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from integrations.store.db import create_db_engine, session_factory, transaction, upgrade
from integrations.store.expertise_index import ExpertiseIndex
from integrations.store.models import (
    Draft,
    DraftStatus,
    Evidence,
    Request,
    RequestMessage,
    RequestState,
)
from sandbox.expertise_topics import SPECIALITIES
from tests.conftest import POSTGRES_ADMIN_URL
from tests.harness import CUSTOMER, ORG
from tests.test_search_index import counts_agree
from workers.expertise import expertise_for
from workers.retrieval import Scope, _feedback_weight, _rank, _recency, retrieve, tokens
from workers.stage_data import details_of

NOW = datetime.now(UTC)
WEBHOOK = "How do we rotate the webhook signing secret without downtime?"
_ids = iter(range(1, 1_000_000))


def answered(
    account: str, question: str, reply: str, *, days: float = 1, up: int = 0, down: int = 0
) -> Request:
    """An answered request of `account` whose approved reply was posted `days` ago."""
    n = next(_ids)
    ts = f"{1_700_000_000 + n}.000100"
    at = NOW - timedelta(days=days)
    return Request(
        team_id=ORG,
        channel_id="C0SHARED",
        ts=ts,
        thread_ts=ts,
        user_id=CUSTOMER,
        account_key=account,
        state=RequestState.ANSWERED,
        messages=[RequestMessage(channel_id="C0SHARED", ts=ts, user_id=CUSTOMER, text=question)],
        drafts=[
            Draft(
                text=reply,
                source="offline",
                status=DraftStatus.APPROVED,
                posted_text=reply,
                posted_ts=f"{1_700_000_000 + n}.000200",
                decided_at=at,
                details={"feedback": {"up": up, "down": down}},
            )
        ],
    )


def filler(rng: random.Random, avoid: str) -> str:
    """A question of the synthetic org's history sharing no word with `avoid`."""
    while True:
        speciality = rng.choice(list(SPECIALITIES.values()))
        text = rng.choice(speciality.questions)
        for slot, values in speciality.fills.items():
            text = text.replace(f"{{{slot}}}", rng.choice(values))
        if not set(tokens(text)) & set(tokens(avoid)):
            return text


def reference(session: Session, scope: Scope, query: str, exclude: int) -> list[tuple[int, float]]:
    """The ranking as it was computed before the index: every answer of the scope in memory,
    BM25+ by rank-bm25 (`workers.retrieval._rank`), times feedback and age."""
    rows = session.execute(
        select(Request.id, Draft.posted_text, Draft.decided_at, Draft.details)
        .join(Draft, Draft.request_id == Request.id)
        .where(Request.account_key == scope.account_key, Request.id != exclude)
        .where(Draft.status == DraftStatus.APPROVED, Draft.posted_ts.is_not(None))
        .order_by(Request.id.desc())
    ).all()
    texts = {r.request_id: r.text for r in session.scalars(select(RequestMessage))}
    kept = [
        (row.id, _feedback_weight(details_of(row.details).feedback) * _recency(row.decided_at))
        for row in rows
    ]
    kept = [(request_id, weight) for request_id, weight in kept if weight > 0]
    ranked = _rank(query, [texts[i] for i, _ in kept], [w for _, w in kept], 3)
    return [(kept[i][0], score) for i, score in ranked]


def test_rankings_are_those_of_the_in_memory_corpus(sessions: sessionmaker[Session]) -> None:
    rng = random.Random(9)
    accounts = ["account:001A", "account:001B", "channel:C0OTHER"]
    with transaction(sessions) as session:
        session.add_all(
            answered(
                rng.choice(accounts),
                filler(rng, ""),
                "Here is how.",
                days=rng.uniform(0, 700),
                up=rng.choice([0, 0, 1, 3]),
                down=rng.choice([0, 0, 0, 1]),
            )
            for _ in range(150)
        )
    with transaction(sessions) as session:
        for _ in range(40):
            query, scope = filler(rng, ""), Scope(rng.choice(accounts))
            exclude = rng.randint(1, 150)
            got = retrieve(session, scope, query, exclude_request=exclude, knowledge_dir=None)
            expected = reference(session, scope, query, exclude)
            assert [e.request_id for e in got.examples] == [i for i, _ in expected]
            # the same scores (read a moment apart: the age weighs a hair less)
            assert [e.score for e in got.examples] == pytest.approx([s for _, s in expected])


def test_the_oldest_answer_is_found_among_many(sessions: sessionmaker[Session]) -> None:
    rng = random.Random(4)
    account = "account:001A"
    with transaction(sessions) as session:
        first = answered(account, WEBHOOK, "Settings > Webhooks > Rotate.", days=900)
        session.add(first)
        session.add_all(answered(account, filler(rng, WEBHOOK), "ok", days=1) for _ in range(700))
    with transaction(sessions) as session:
        newer = session.scalars(select(Request.id).where(Request.id > first.id)).all()
        assert len(newer) > 500  # all the in-memory ranking read of this account
        found = retrieve(
            session,
            Scope(account),
            "the webhook signing secret: how to rotate it?",
            exclude_request=0,
            knowledge_dir=None,
        )
    assert [e.request_id for e in found.examples] == [first.id]
    assert found.examples[0].question == WEBHOOK


def test_another_accounts_answer_is_never_retrieved(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        ours = answered("account:001A", "Can we rotate a secret for the API?", "Yes, in Admin.")
        theirs = answered("account:001B", WEBHOOK, "Initech: Settings > Webhooks > Rotate.")
        channel = answered("channel:C0OTHER", WEBHOOK, "Channel: Settings > Webhooks.")
        session.add_all([ours, theirs, channel])
    with transaction(sessions) as session:

        def found(account: str, exclude: int = 0) -> list[int]:
            grounding = retrieve(
                session, Scope(account), WEBHOOK, exclude_request=exclude, knowledge_dir=None
            )
            assert grounding.scope == Scope(account)
            return [e.request_id for e in grounding.examples]

        assert found("account:001A") == [ours.id]  # not the better answers of the others
        assert found("account:001B") == [theirs.id]
        assert found("channel:C0OTHER") == [channel.id]
        assert found("account:001Z") == []
        assert found("account:001B", exclude=theirs.id) == []  # never its own example
        [(_, expected)] = reference(session, Scope("account:001A"), WEBHOOK, 0)
        [example] = retrieve(
            session, Scope("account:001A"), WEBHOOK, exclude_request=0, knowledge_dir=None
        ).examples
        assert example.score == pytest.approx(expected)  # among its own answers only


def _postgres_database() -> Iterator[str]:
    name = f"triage_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield from _postgres_database()


def test_the_migration_fills_the_index_from_rows_already_stored(empty_url: str) -> None:
    upgrade(empty_url, "0008")
    engine = create_db_engine(empty_url)
    request = answered("account:001A", WEBHOOK, "Settings > Webhooks > Rotate.", days=30)
    with engine.begin() as connection:  # as 0008 stored them: no index yet
        for row in (request, *request.messages, *request.drafts):
            values = {c.key: getattr(row, c.key) for c in row.__table__.c if c.key != "id"}
            values = {k: v for k, v in values.items() if v is not None}  # defaults: Core's
            if row is not request:
                values["request_id"] = 1
            connection.execute(insert(type(row)), [values])
        connection.execute(
            insert(Evidence),
            [
                {
                    "source_key": "request:1",
                    "user_id": "U0SAM",
                    "kind": "approval",
                    "request_id": 1,
                    "draft_id": 1,
                    "question": WEBHOOK,
                    "answer": "Settings > Webhooks > Rotate.",
                    "share": 1.0,
                    "answered": True,
                    "up": 0,
                    "down": 0,
                    "reopened": False,
                    "answered_at": NOW,
                    "created_at": NOW,
                }
            ],
        )
    upgrade(empty_url)  # 0009 creates the index and fills it
    with transaction(session_factory(engine)) as session:
        counts_agree(session)
        grounding = retrieve(
            session, Scope("account:001A"), WEBHOOK, exclude_request=0, knowledge_dir=None
        )
        assert [e.request_id for e in grounding.examples] == [1]
        expertise = expertise_for(
            session, WEBHOOK, index=ExpertiseIndex(), half_life_days=180, now=NOW
        )
        assert list(expertise) == ["U0SAM"]
    engine.dispose()
