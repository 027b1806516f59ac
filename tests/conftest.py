"""Shared fixtures: real PostgreSQL and Redis, the Slack emulator, and the real app on a free port.

PostgreSQL: a fresh database per test session (dropped at the end), tables truncated per test.
Redis: one logical database of the local server, flushed per test (`TRIAGE_TEST_REDIS_URL`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.logs import configure_logging
from integrations.llm import OpenAIModel
from integrations.store.db import create_db_engine, session_factory, upgrade
from integrations.store.models import Base
from sandbox.openai_server import OpenAIServer
from tests.harness import World, start_world

POSTGRES_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TRIAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def _worker_redis_url(base: str) -> str:
    """Each pytest-xdist worker (gw0, gw1...) flushes a logical database of its own: the base
    one for gw0 and a single run, the next ones for the other workers (at most 16 in Redis)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    prefix, _, number = base.rpartition("/")
    database = (int(number or 0) + int(worker.removeprefix("gw"))) % 16
    return f"{prefix}/{database}"


configure_logging("INFO", "console")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own on the local PostgreSQL, migrated with Alembic."""
    name = f"triage_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(postgres_url: str) -> str:
    engine = create_db_engine(postgres_url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        # A connection a previous test left open (a killed process, a server thread) must not
        # block the TRUNCATE below: end them all first.
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


@pytest.fixture
def redis_url() -> str:
    url = _worker_redis_url(REDIS_URL)
    client = Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def world(database_url: str, redis_url: str) -> Iterator[World]:
    """The emulator with an org, a customer, channels; the app serving on a free port."""
    with start_world(database_url=database_url, redis_url=redis_url) as w:
        yield w


@pytest.fixture
def model() -> Iterator[OpenAIServer]:
    """The local OpenAI-compatible server (sandbox/openai_server.py), for tests that draft."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's database, with the search index kept current, as the app's."""
    engine = create_db_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def embedder(model: OpenAIServer) -> OpenAIModel:
    """OpenAI's client on the local server, embeddings on (text-embedding-3-small)."""
    return OpenAIModel(
        api_key="sk-test",
        model="gpt-4o-mini",
        base_url=model.base_url,
        timeout=2,
        embedding_model="text-embedding-3-small",
    )
