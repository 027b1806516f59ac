"""The tables of CSAT (SPEC §6.7): one question to the customer after an answer, and their votes.

A `CsatSurvey` is the question's clock, as `SlaClock` is the first response's: written in the
transaction that records the request's answer, due `CSAT_AFTER_MINUTES` later, asked once
(`asked_at`, set by a conditional UPDATE in the transaction that writes its outbox row) or
cancelled once (`cancelled_at`, with why: withdrawn, reopened, a tier not surveyed...). One per
request (`request_id` unique), so a request is never asked twice. A `CsatVote` is one person's
answer: one row per request and person, a second click changes its value.

They hold ids and the vote, no customer text: retention has nothing to purge here. They are
part of `Base.metadata` because `integrations/store/__init__.py` imports this module.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integrations.store.models import Base, _enum, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class CsatValue(enum.StrEnum):
    GOOD = "good"
    BAD = "bad"


class CsatSurvey(Base):
    """The CSAT question of one answered request: when it is due, and whether it was asked."""

    __tablename__ = "csat_surveys"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), unique=True
    )
    # The answer's moment plus CSAT_AFTER_MINUTES; a later answer (an incident's next update)
    # moves it later while the question is not asked yet.
    due_at: Mapped[datetime] = mapped_column(index=True)
    asked_at: Mapped[datetime | None]  # its outbox row was written: asked, once
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    cancelled_at: Mapped[datetime | None]
    cancelled_why: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CsatVote(Base):
    """One person's answer to a request's question; their latest click is what counts."""

    __tablename__ = "csat_votes"
    __table_args__ = (UniqueConstraint("request_id", "user_id", name="uq_csat_votes_person"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))  # the voter's own organisation
    value: Mapped[CsatValue] = mapped_column(_enum(CsatValue))
    voted_at: Mapped[datetime] = mapped_column(default=utcnow)  # the first click
    changed_at: Mapped[datetime | None]  # the latest click that changed the value
