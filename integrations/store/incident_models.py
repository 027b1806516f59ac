"""The tables of incidents (SPEC §6.6): one problem, reported by several accounts.

An `Incident` groups the `IncidentReport`s (one per request, unique: a request is part of at
most one incident, ever; a split report keeps its row with `split_at` so it is never grouped
again). While a report is in an open incident, its request's first-response clock is paused
(`workers.sla` reads this table); the incident's own clock is `deadline_at`. An
`IncidentUpdate` is a status update a person approved; it is posted in every affected thread
through the outbox (`incident-update:<update>:<request>`, one row each).

They are part of `Base.metadata` because `integrations/store/__init__.py` imports this module.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    ForeignKey,
    Integer,
    String,
    Text,
    exists,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from integrations.store.models import Base, _enum, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class IncidentState(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Incident(Base):
    """One outage as the team sees it: its card, its clock, its updates, its parent Case."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    state: Mapped[IncidentState] = mapped_column(
        _enum(IncidentState), default=IncidentState.OPEN, index=True
    )
    title: Mapped[str] = mapped_column(Text, default="")  # what customers see, in a line
    signatures: Mapped[list[str]] = mapped_column(JSON, default=list)  # "http:500", "path:/sso"
    first_report_at: Mapped[datetime]
    last_report_at: Mapped[datetime]
    # The incident's own first-response clock: from its first report, at the strictest tier.
    tier: Mapped[str | None] = mapped_column(String(64))
    deadline_at: Mapped[datetime]
    breached_at: Mapped[datetime | None]
    first_update_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    card_channel: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    card_permalink: Mapped[str | None] = mapped_column(Text)  # for the joined cards' link
    parent_case_id: Mapped[str | None] = mapped_column(String(32))
    cases_done: Mapped[bool] = mapped_column(default=False)  # every account's Case linked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IncidentReport(Base):
    """A request that reported the incident's problem."""

    __tablename__ = "incident_reports"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), unique=True
    )
    account_key: Mapped[str] = mapped_column(String(64))
    similarity: Mapped[float] = mapped_column(default=1.0)  # to the incident when it joined
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    split_at: Mapped[datetime | None]
    split_by: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(32))  # its account's Case, linked


class IncidentUpdate(Base):
    """A status update (or the closing one) a person approved for every affected customer."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # update | resolve
    text: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def in_open_incident(request_id: Any) -> ColumnElement[bool]:
    """SQL: the request with this id (a column or a value) is a report of an open incident,
    not split out: its first-response clock is paused."""
    return exists(
        select(IncidentReport.id)
        .join(Incident, Incident.id == IncidentReport.incident_id)
        .where(
            IncidentReport.request_id == request_id,
            IncidentReport.split_at.is_(None),
            Incident.state == IncidentState.OPEN,
        )
    )
