"""Where `triage backfill` is in each channel's history (`workers/backfill.py`).

Part of `Base.metadata` because `integrations/store/__init__.py` imports this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integrations.store.models import Base, utcnow


class BackfillCursor(Base):
    """Where `triage backfill` is in a channel's history, so an interrupted run resumes.

    `latest` pins the window's newest end for the whole run; `next_cursor` is the history
    page to read next; `finished_at` is set when the window is done.
    """

    __tablename__ = "backfill_cursors"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), unique=True)
    oldest: Mapped[str] = mapped_column(String(32))
    latest: Mapped[str] = mapped_column(String(32))
    next_cursor: Mapped[str | None] = mapped_column(Text)
    threads: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
