"""Switches a person flips at run time, kept in the database so every process sees the same
one and a restart of Redis (which may keep nothing on disk) cannot flip one back.

One today: `auto_send` (SPEC §6.7), the kill switch a support lead turns off with
`/triage auto-send off`. No row means the switch was never touched: on, where AUTO_SEND
allows anything at all. Each change is also an audit entry (who, when).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from integrations.store.models import Base, utcnow


class Switch(Base):
    __tablename__ = "switches"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool]
    changed_by: Mapped[str | None] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
