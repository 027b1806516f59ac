"""Migrations and models agree, on both databases: `alembic check` finds nothing to generate."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from integrations.store.db import alembic_config, upgrade


def test_postgres_schema_matches_the_models(postgres_url: str) -> None:
    command.check(alembic_config(postgres_url))  # raises when a migration is missing


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'check.db'}"
    upgrade(url)
    command.check(alembic_config(url))
    command.downgrade(alembic_config(url), "base")  # and every migration can be undone
