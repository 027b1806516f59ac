"""The expertise corpus each process keeps in memory (integrations/store/expertise_index.py):
loaded once, it ranks exactly as a corpus loaded afresh after every kind of change another
process commits (evidence learned or deleted, feedback on a draft, a reopened thread, a
purge), also a change whose transaction commits after the index last looked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.store.db import transaction
from integrations.store.expertise_index import ExpertiseIndex
from integrations.store.models import Draft, Evidence, Request
from tests.harness import World
from tests.test_expertise import NOW, SAML, approved_by, learn, open_request
from workers.expertise import expertise_for
from workers.retention import purge_expired_text
from workers.suggest import suggest_colleagues

WEBHOOK = "Webhook deliveries to our endpoint time out since the upgrade"


def ranking(session: Session, index: ExpertiseIndex, query: str = SAML) -> dict[str, Any]:
    found = expertise_for(session, query, index=index, half_life_days=180, now=NOW)
    return {u: (round(e.score, 9), e.similar, e.up, e.topic) for u, e in found.items()}


def same_as_fresh(world: World, query: str = SAML) -> dict[str, Any]:
    """The long-lived index's ranking, checked against a corpus loaded now."""
    with transaction(world.deps.sessions) as session:
        kept = ranking(session, world.deps.expertise, query)
    with transaction(world.deps.sessions) as session:
        assert kept == ranking(session, ExpertiseIndex(), query)
    return kept


def test_a_loaded_index_follows_every_change_another_process_commits(world: World) -> None:
    learn(world.deps, "U0ROSA", SAML)
    request_id, draft_id = approved_by(world.deps, "U0SAM", at=NOW - timedelta(days=1))
    first = same_as_fresh(world)  # loads the long-lived index
    assert set(first) == {"U0ROSA", "U0SAM"}

    learn(world.deps, "U0INA", SAML, times=2)  # evidence learned
    assert "U0INA" in same_as_fresh(world)

    with transaction(world.deps.sessions) as session:  # 👎👎 on Sam's draft
        session.get_one(Draft, draft_id).details = {"feedback": {"up": 0, "down": 2}}
    down = same_as_fresh(world)
    assert down["U0SAM"][0] < first["U0SAM"][0]

    with transaction(world.deps.sessions) as session:  # the customer comes back in the thread
        thread_ts = session.get_one(Request, request_id).thread_ts
    later = open_request(world.deps, text="It fails again since this morning")
    with transaction(world.deps.sessions) as session:
        session.get_one(Request, later).thread_ts = thread_ts
    suggest_colleagues(world.deps, request_id=later, now=NOW)  # the pipeline's stage
    reopened = same_as_fresh(world)
    assert reopened["U0SAM"][0] < down["U0SAM"][0]

    with transaction(world.deps.sessions) as session:  # an answer deleted
        for row in session.scalars(select(Evidence).where(Evidence.user_id == "U0ROSA")):
            session.delete(row)
    assert "U0ROSA" not in same_as_fresh(world)

    purge_expired_text(world.deps.sessions, retention_days=1, now=NOW + timedelta(days=30))
    assert "U0INA" not in same_as_fresh(world)  # her old answers' words are gone


def test_a_change_committed_after_the_index_looked_is_still_seen(world: World) -> None:
    learn(world.deps, "U0ROSA", SAML)
    index = world.deps.expertise
    with transaction(world.deps.sessions) as session:
        assert set(ranking(session, index)) == {"U0ROSA"}
    slow = world.deps.sessions()  # a transaction that writes, and commits a moment later
    slow.add(
        Evidence(
            source_key="thread:C0SLOW:1",
            user_id="U0SAM",
            kind="history",
            question=SAML,
            answered_at=NOW,
        )
    )
    slow.flush()  # its change row is written now, with this moment's time
    with transaction(world.deps.sessions) as session:
        assert set(ranking(session, index)) == {"U0ROSA"}  # not committed: not seen
    slow.commit()
    slow.close()
    assert set(same_as_fresh(world)) == {"U0ROSA", "U0SAM"}


def test_a_corpus_rewritten_without_its_changed_documents_ranks_the_same(world: World) -> None:
    world.deps.expertise = ExpertiseIndex(compact_after=5)
    learn(world.deps, "U0ROSA", SAML, times=3)
    learn(world.deps, "U0SAM", WEBHOOK, answer="Raise the timeout of your endpoint.")
    for n in range(8):  # each answer rewritten: its old version is a dead slot
        assert set(same_as_fresh(world)) == {"U0ROSA"}
        assert set(same_as_fresh(world, WEBHOOK)) == {"U0SAM"}
        with transaction(world.deps.sessions) as session:
            for row in session.scalars(select(Evidence)):
                row.answer = f"Answered again ({n})."
    assert set(same_as_fresh(world)) == {"U0ROSA"}
    with (
        transaction(world.deps.sessions) as session,
        world.deps.expertise.reading(session) as corpus,
    ):
        assert corpus.documents == 4 and corpus.size < 4 * 8  # compacted along the way
