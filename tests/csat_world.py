"""The CSAT tests' world: Globex (enterprise, from the accounts file) asks, the approver
answers, the question is due 3 s later; and what customers and the app do in its thread."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import select

from integrations.store.csat_models import CsatSurvey, CsatVote
from integrations.store.db import transaction
from sandbox.slack_interactivity import block_actions_body
from tests.harness import REPO, SHARED, World, start_world, wait_for
from workers.blocks.csat import csat_phrases
from workers.ids import ActionId, BlockId

MINUTES = 0.05  # the question is due 3 s after the answer
EN = csat_phrases("en")  # the question and its answers in English


def start_csat_world(
    database_url: str, redis_url: str, **overrides: Any
) -> AbstractContextManager[World]:
    """`start_world` with CSAT asked 3 s after an answer, and the accounts file."""
    values: dict[str, Any] = dict(
        grouping_minutes=0,
        csat_after_minutes=MINUTES,
        accounts_file=str(REPO / "sandbox" / "accounts.yaml"),  # Globex is enterprise
    )
    values.update(overrides)
    return start_world(database_url=database_url, redis_url=redis_url, **values)


def answered(world: World, text: str = "How do I export last month's invoices?") -> str:
    """The customer asks, the approver sends the draft; the thread's ts."""
    body = world.customer_says(text)
    world.drain()
    world.click(ActionId.APPROVE_DRAFT, world.cards()[-1])
    world.drain()
    thread = str(body["event"]["ts"])
    assert len(world.replies_in(thread)) == 1  # the answer
    return thread


def questions(world: World, thread: str, channel: str = SHARED) -> list[dict[str, Any]]:
    """The app's CSAT questions in the thread (its messages with the question's buttons), in
    whatever language they were asked."""
    return [
        m
        for m in world.replies_in(thread, channel)
        if any(b.get("block_id") == BlockId.CSAT_ACTIONS for b in m.get("blocks") or [])
    ]


def buttons(question: dict[str, Any]) -> list[str]:
    """The labels of the question's buttons, 👍 first."""
    [actions] = [b for b in question["blocks"] if b.get("block_id") == BlockId.CSAT_ACTIONS]
    return [e["text"]["text"] for e in actions["elements"]]


def survey(world: World) -> CsatSurvey:
    """The one question there is."""
    [row] = surveys(world)
    return row


def surveys(world: World) -> list[CsatSurvey]:
    with transaction(world.deps.sessions) as session:
        rows = list(session.scalars(select(CsatSurvey).order_by(CsatSurvey.id)).all())
        session.expunge_all()
        return rows


def votes(world: World) -> list[tuple[str, str]]:
    with transaction(world.deps.sessions) as session:
        rows = session.scalars(select(CsatVote).order_by(CsatVote.user_id)).all()
        return [(v.user_id, v.value.value) for v in rows]


def counted(value: str) -> float:
    return REGISTRY.get_sample_value("triage_csat_total", {"value": value}) or 0.0


def click(
    world: World, message: dict[str, Any], action: str, *, user: str, team: str
) -> dict[str, Any]:
    """`user` clicks a button of the question; what they were told (ephemerally)."""
    name = f"csat-{time.time_ns()}"
    body = block_actions_body(
        user_id=user,
        user_team_id=team,
        team_id=team,
        channel_id=SHARED,
        message_ts=message["ts"],
        message=message,
        action_id=action,
        response_url=world.emu.response_url(name),
    )
    status, _ = world.send(body)
    assert status == 200
    [told] = wait_for(lambda: world.emu.responses(name))
    assert told["response_type"] == "ephemeral" and not told.get("replace_original")
    return dict(told)
