"""A process keeps the scopes' vectors it read (`integrations/store/vector_cache.py`) and reads a
scope again only when the scope changed: a new answer, an answer withdrawn, new vectors, in
this process or any other. Each request otherwise read its account's whole matrix, twice.

Retrieval runs as the draft stage runs it (`prepare`, then `retrieve` with the query), against
the local OpenAI server's embeddings and the real database; "another process" is another
session factory on the same database, which shares nothing with the cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from integrations.llm import OpenAIModel
from integrations.store.db import create_db_engine, session_factory, transaction
from integrations.store.models import Draft
from integrations.store.search_index import reindex
from integrations.store.vector_cache import VectorCache
from tests.test_search_isolation import WEBHOOK, answered
from tests.test_semantic import PARAPHRASE, asking, grounded

OURS, THEIRS = "account:001A", "account:001B"


@pytest.fixture
def elsewhere(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Another process's sessions: its writes reach the cache only through the database."""
    engine = create_db_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def test_an_unchanged_scope_is_read_once_and_gives_what_the_database_gives(
    sessions: sessionmaker[Session], embedder: OpenAIModel
) -> None:
    with transaction(sessions) as session:
        ours = answered(OURS, WEBHOOK, "Settings > Webhooks > Rotate.")
        theirs = answered(THEIRS, WEBHOOK, "Initech: Settings > Webhooks > Rotate.")
        session.add_all([ours, theirs, answered(OURS, "Where is my invoice?", "Billing.")])
    cache = VectorCache()
    first = asking(sessions, OURS, PARAPHRASE)
    assert grounded(sessions, embedder, OURS, first, cache=cache) == [ours.id]
    read = cache.reads  # the scope, then again once its missing vectors were stored
    for _ in range(3):
        request = asking(sessions, OURS, PARAPHRASE)
        assert grounded(sessions, embedder, OURS, request, cache=cache) == [ours.id]
        assert grounded(sessions, embedder, OURS, request) == [ours.id]
    assert cache.reads == read
    # Another account's scope is its own copy, and never holds ours
    request = asking(sessions, THEIRS, PARAPHRASE)
    assert grounded(sessions, embedder, THEIRS, request, cache=cache) == [theirs.id]
    assert cache.reads > read
    # A request's own answer is never its example, from the copy as from the database
    assert grounded(sessions, embedder, OURS, ours.id, cache=cache) == []


def test_an_answer_added_or_withdrawn_by_another_process_is_seen_at_once(
    sessions: sessionmaker[Session],
    elsewhere: sessionmaker[Session],
    embedder: OpenAIModel,
) -> None:
    with transaction(sessions) as session:
        session.add(answered(OURS, "Where is my invoice?", "Billing > Invoices."))
    cache = VectorCache()
    assert grounded(sessions, embedder, OURS, asking(sessions, OURS, PARAPHRASE), cache=cache) == []
    with transaction(elsewhere) as session:  # approved in another process
        new = answered(OURS, WEBHOOK, "Settings > Webhooks > Rotate.")
        session.add(new)
    request = asking(sessions, OURS, PARAPHRASE)
    assert grounded(sessions, embedder, OURS, request, cache=cache) == [new.id]
    with transaction(elsewhere) as session:  # withdrawn there (retention, a deleted answer)
        session.execute(delete(Draft).where(Draft.request_id == new.id))
    with transaction(elsewhere) as session:  # delete() skips the flush hooks: re-index it
        reindex(session.connection(), requests=[new.id])
    request = asking(sessions, OURS, PARAPHRASE)
    assert grounded(sessions, embedder, OURS, request, cache=cache) == []


def test_the_cache_keeps_at_most_its_bytes(
    sessions: sessionmaker[Session], embedder: OpenAIModel
) -> None:
    with transaction(sessions) as session:
        session.add_all([answered(OURS, WEBHOOK, "A."), answered(THEIRS, WEBHOOK, "B.")])
    one_scope = 1536 * 4 + 400  # text-embedding-3-small's 1,536 floats, and its ids
    cache = VectorCache(max_bytes=one_scope + 100)
    for account in (OURS, THEIRS, OURS, THEIRS):  # each pushes the other out
        grounded(sessions, embedder, account, asking(sessions, account, PARAPHRASE), cache=cache)
    reads = cache.reads
    grounded(sessions, embedder, THEIRS, asking(sessions, THEIRS, PARAPHRASE), cache=cache)
    assert cache.reads == reads  # the last one read is kept
    grounded(sessions, embedder, OURS, asking(sessions, OURS, PARAPHRASE), cache=cache)
    assert cache.reads == reads + 1  # the other was not
    assert cache._bytes <= cache.max_bytes
