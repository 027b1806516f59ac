"""`triage backfill` (SPEC §6.4): learns from shared channels' history through the Web API,
idempotently, resumably, waiting out rate limits; the CLI shows its progress."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from integrations.deps import Deps
from integrations.settings import load_settings
from integrations.store.backfill_models import BackfillCursor
from integrations.store.db import transaction, upgrade
from integrations.store.models import Evidence
from sandbox.expertise_world import (
    AMY,
    GUS,
    TOKEN,
    TRIAGE_CHANNEL,
    ExpertiseWorld,
    build_expertise_world,
)
from tests.harness import triage_cli
from workers.backfill import Interrupted, backfill
from workers.expertise import index_snapshot


@contextmanager
def expertise_world(database_url: str, redis_url: str, past: int = 40) -> Iterator[tuple]:
    world = build_expertise_world(past=past, held_out=0)
    world.emu.start()
    deps = Deps.build(_settings(world, database_url, redis_url))
    try:
        yield world, deps
        assert world.emu.spec_violations == [], world.emu.spec_violations
    finally:
        deps.close()
        world.emu.stop()


def _settings(world: ExpertiseWorld, database_url: str, redis_url: str):  # type: ignore[no-untyped-def]
    return load_settings(
        _env_file=None,
        slack_bot_token=TOKEN,
        slack_api_url=world.emu.api_url,
        database_url=database_url,
        redis_url=redis_url,
        triage_channel=TRIAGE_CHANNEL,
        # What is learned, not Slack's pace: at Tier 3's 50 a minute each test took 100 s
        slack_rate_scale=100,
    )


def snapshot(deps: Deps) -> list[dict]:
    with transaction(deps.sessions) as session:
        return index_snapshot(session)


def test_backfill_learns_who_answered_each_thread_once(database_url: str, redis_url: str) -> None:
    with expertise_world(database_url, redis_url) as (world, deps):
        report = backfill(deps, days=90)
        assert report.channels == 5 and report.threads == 40 and report.learned == 40
        index = snapshot(deps)
        # One answerer per thread; the owner's "Looping in <@expert>" is a hand-off, not an
        # answer, so account managers are credited only where they answered themselves.
        assert Counter(row["user"] for row in index) == Counter(t.answerer for t in world.past)
        assert any(t.looped_in for t in world.past)
        assert any(row["up"] for row in index) and all(row["share"] == 1.0 for row in index)
        # Twice: nothing learned twice, the same index.
        again = backfill(deps, days=90)
        assert again.learned == 0 and again.threads == 40
        assert snapshot(deps) == index


def test_an_interrupted_backfill_resumes_where_it_stopped(
    database_url: str, redis_url: str
) -> None:
    with expertise_world(database_url, redis_url) as (world, deps):
        with pytest.raises(Interrupted):
            backfill(deps, days=90, page_size=2, stop_after_pages=1)
        with transaction(deps.sessions) as session:
            cursors = session.scalars(select(BackfillCursor)).all()
            unfinished = [c for c in cursors if c.finished_at is None]
            assert len(unfinished) == 1 and unfinished[0].next_cursor
            resumed_channel, cursor = unfinished[0].channel_id, unfinished[0].next_cursor
            learned_before = len(session.scalars(select(Evidence)).all())
        assert 0 < learned_before < 40
        world.emu.clear_calls()
        report = backfill(deps, days=90, page_size=2)
        first = world.emu.calls("conversations.history")
        resumed = [c for c in first if c.args.get("channel") == resumed_channel]
        assert resumed[0].args.get("cursor") == cursor  # not from the start
        resumed_index = snapshot(deps)
        assert len(resumed_index) == 40
        assert report.learned == 40 - learned_before

        # The same index as one uninterrupted run, on another database.
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/clean.db"
            upgrade(url)
            clean = Deps.build(_settings(world, url, redis_url))
            try:
                backfill(clean, days=90)
                assert snapshot(clean) == resumed_index
            finally:
                clean.close()


def test_backfill_waits_out_rate_limits_and_skips_unreadable_channels(
    database_url: str, redis_url: str
) -> None:
    with expertise_world(database_url, redis_url, past=6) as (world, deps):
        world.emu.fail("conversations.replies", status=429, retry_after=1, times=3)
        world.emu.fail("conversations.history", status=429, retry_after=1, times=1)
        report = backfill(deps, days=90)
        assert report.learned == 6
        world.emu.add_channel("C0NOBOT", "ext-nobot", is_ext_shared=True, members=["U0CAROL"])
        assert backfill(deps, days=90, channel="C0NOBOT").skipped == ["C0NOBOT"]


def test_a_deactivated_expert_is_learned_but_never_suggested(
    database_url: str, redis_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from sandbox.expertise_world import Thread, post_history
    from tests.test_expertise import open_request
    from workers.suggest import suggest_colleagues

    with expertise_world(database_url, redis_url, past=0) as (world, deps):
        old = datetime.now(UTC) - timedelta(days=20)
        question = "SCIM provisioning from Okta stopped creating new users"
        threads = [
            Thread("C0GLOBEX", "U0CAROL", AMY, "sso", question, GUS, old + timedelta(hours=i))
            for i in range(3)
        ] + [Thread("C0GLOBEX", "U0CAROL", AMY, "sso", question, "U0SAM", old + timedelta(days=1))]
        post_history(world.emu, threads)
        backfill(deps, days=30)
        with transaction(deps.sessions) as session:
            users = {e.user_id for e in session.scalars(select(Evidence))}
        assert users == {GUS, "U0SAM"}
        request_id = open_request(deps, text="Okta SCIM provisioning is not creating users")
        people = suggest_colleagues(deps, request_id=request_id).people
        assert [p.user_id for p in people] == ["U0SAM"]


def test_the_backfill_command_prints_progress_lines_off_a_terminal(
    database_url: str, redis_url: str
) -> None:
    with expertise_world(database_url, redis_url, past=10) as (world, _deps):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TRIAGE_"))}
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_API_URL=world.emu.api_url,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            LOG_LEVEL="WARNING",
        )
        result = triage_cli("backfill", "--days", "90", env=env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert "backfill: channel C0GLOBEX (1/5)" in lines
        assert any(line.startswith("backfill: C0GLOBEX: ") for line in lines)
        assert lines[-1].startswith("backfill: 5 channels, 10 threads, ")
        assert "10 answers learned" in lines[-1]
