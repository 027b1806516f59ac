"""The history search's index (integrations/store/search_index.py) is written when its
documents change, never rebuilt per request: an answer approved and posted, feedback on it, an
edit of its question, a colleague's reply, a purge. Its counts always agree with its documents.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from rank_bm25 import BM25Plus
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integrations.store.db import transaction
from integrations.store.models import Evidence, Request
from integrations.store.search_index import ANSWERS, EXPERTISE
from integrations.store.search_models import SearchDocument, SearchPosting, SearchStats
from integrations.store.search_rank import Matches, bm25_plus
from integrations.store.search_terms import stemmed, term_key, tokens
from sandbox.slack_events import message_changed_envelope
from tests.harness import CUSTOMER, ORG, SHARED, World
from tests.test_feedback import answer, react
from tests.test_retention import DAYS, age, stored
from workers.expertise import expertise_for
from workers.retention import purge_expired_text

EXPERT = "U0SAM"


def indexed(session: Session, corpus: str) -> dict[int, set[str]]:
    """Each document of the corpus, with its terms."""
    sources = select(SearchDocument.source_id).where(SearchDocument.corpus == corpus)
    found: dict[int, set[str]] = {source: set() for source in session.scalars(sources)}
    for source, term in session.execute(
        select(SearchPosting.source_id, SearchPosting.term).where(SearchPosting.corpus == corpus)
    ):
        found[source].add(term)
    return found


def counts_agree(session: Session) -> None:
    """`search_stats` says what `search_documents` holds, scope by scope."""
    kept = {
        (corpus, scope): (documents, length)
        for corpus, scope, documents, length in session.execute(
            select(SearchStats.corpus, SearchStats.scope, SearchStats.documents, SearchStats.length)
        )
        if documents or length
    }
    actual = {
        (corpus, scope): (documents, length)
        for corpus, scope, documents, length in session.execute(
            select(
                SearchDocument.corpus,
                SearchDocument.scope,
                func.count(),
                func.sum(SearchDocument.length),
            ).group_by(SearchDocument.corpus, SearchDocument.scope)
        )
    }
    assert kept == actual


def test_scores_equal_rank_bm25s_over_the_whole_corpus() -> None:
    """BM25+ from postings (only the query's terms, N and lengths kept aside) gives exactly
    rank-bm25's scores over the whole corpus, empty texts and repeated query words included."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(40)]
    for _ in range(30):
        corpus = [rng.choices(words, k=rng.randint(0, 12)) for _ in range(rng.randint(1, 30))]
        query = rng.choices(words, k=rng.randint(1, 5))
        expected = BM25Plus([doc or ["∅"] for doc in corpus]).get_scores(query)
        found = Matches(len(corpus), sum(max(1, len(doc)) for doc in corpus))
        for i, doc in enumerate(corpus):
            held = {term_key(w): doc.count(w) for w in set(doc) & set(query)}
            if held:
                found.terms[i], found.lengths[i] = held, max(1, len(doc))
        needed = min(2, len(set(query)))
        shared = [i for i, doc in enumerate(corpus) if len(set(doc) & set(query)) >= needed]
        got = dict(bm25_plus(query, found, 2))
        assert sorted(got) == shared
        assert [got[i] for i in shared] == pytest.approx([float(expected[i]) for i in shared])


def test_an_approved_answer_is_indexed_and_feedback_and_edits_change_it(world: World) -> None:
    question = "How do we rotate the webhook signing secret?"
    posted = answer(world, question, "Settings > Webhooks > Rotate secret; the old works 24 h.")
    with transaction(world.deps.sessions) as session:
        [(draft_id, terms)] = indexed(session, ANSWERS).items()
        assert terms == set(tokens(question))
        counts_agree(session)

    react(world, posted, CUSTOMER, "-1")  # any 👎 takes it out of the examples
    world.drain()
    with transaction(world.deps.sessions) as session:
        assert indexed(session, ANSWERS) == {}
        counts_agree(session)
    react(world, posted, CUSTOMER, "-1", added=False)
    world.drain()
    with transaction(world.deps.sessions) as session:
        assert indexed(session, ANSWERS) == {draft_id: terms}
        counts_agree(session)

    # The customer edits the question it answered: the index follows the words.
    with transaction(world.deps.sessions) as session:
        ts = session.scalars(select(Request.ts)).one()
    message = world.emu.find_message(SHARED, ts)
    assert message is not None
    edited = {**message, "text": "How do we rotate the SAML certificate instead?"}
    context = world.emu.event_context(SHARED, CUSTOMER)
    assert world.send(message_changed_envelope(edited, message, **context))[0] == 200
    world.drain()
    with transaction(world.deps.sessions) as session:
        edited_terms = {"rotate", "saml", "certificate", "instead"}
        assert indexed(session, ANSWERS) == {draft_id: edited_terms}
        counts_agree(session)


def test_a_colleagues_reply_and_an_approval_are_indexed_as_expertise(world: World) -> None:
    world.emu.add_user(EXPERT, team_id=ORG, name="sam", tz="Europe/London")
    asked = world.customer_says("Our SAML login through Okta fails with an invalid signature")
    world.drain()
    world.customer_says(
        "Upload the rotated certificate under SSO settings.",
        user=EXPERT,
        team=ORG,
        thread_ts=asked["event"]["ts"],
    )
    answer(world, "Can we export the audit log to our SIEM?", "Yes: Admin > Audit > Export.")
    with transaction(world.deps.sessions) as session:
        evidence = {e.id: e.user_id for e in session.scalars(select(Evidence))}
        learned = indexed(session, EXPERTISE)
        assert set(learned) == set(evidence)
        saml = next(terms for i, terms in learned.items() if evidence[i] == EXPERT)
        assert {"saml", "okta", "signature", "upload", "certificate"} <= saml  # stemmed
        counts_agree(session)
        found = expertise_for(
            session,
            "SAML signature fails",
            index=world.deps.expertise,
            half_life_days=180,
            now=datetime.now(UTC),
        )
        assert list(found) == [EXPERT]


def test_purged_text_leaves_the_index(world: World) -> None:
    world.emu.add_user(EXPERT, team_id=ORG, name="sam", tz="Europe/London")
    answer(world, "Where do we download the zebrafish invoices?", "Billing > Invoices.")
    with transaction(world.deps.sessions) as session:
        assert indexed(session, ANSWERS) and indexed(session, EXPERTISE)
    age(world.deps.sessions, DAYS + 1)
    purge_expired_text(world.deps.sessions, retention_days=DAYS)
    with transaction(world.deps.sessions) as session:
        assert indexed(session, ANSWERS) == {} and indexed(session, EXPERTISE) == {}
        counts_agree(session)
    assert "zebrafish" not in stored(world.deps.sessions)


def test_counts_stay_exact_through_many_changes(world: World) -> None:
    """Evidence added, changed and deleted through the ORM, in several flushes: the counts
    are always the sum of what is indexed."""
    rng = random.Random(3)
    now = datetime.now(UTC)
    with transaction(world.deps.sessions) as session:
        rows = [
            Evidence(
                source_key=f"thread:{SHARED}:{i}",
                user_id=f"U0P{i % 4}",
                kind="history",
                question=" ".join(rng.choices(["export", "saml", "invoice", "api"], k=3)),
                answer="",
                answered_at=now - timedelta(days=i),
            )
            for i in range(30)
        ]
        session.add_all(rows)
        session.flush()
        counts_agree(session)
        for row in rows[:10]:
            row.answer = "more words about webhooks"
        rows[10].question = ""  # nothing to search: leaves the index
        session.delete(rows[11])
        session.flush()
        counts_agree(session)
        assert len(indexed(session, EXPERTISE)) == 28
        expected = {"webhook", "word", *tokens(stemmed(rows[0].question))}
        assert indexed(session, EXPERTISE)[rows[0].id] == expected
