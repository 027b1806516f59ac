"""audit log without text, and append-only on PostgreSQL

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-14 09:00:00

The audit log used to quote the reply posted to a customer (`text`), an approver's edit
(`original`, `sent`, `diff`) and the reasons people typed (`reason`), and retention edited old
entries to remove them: the log was not append-only. From here on an entry holds ids and
fingerprints only (`integrations/store/audit.py`); this migration replaces each of those
values in the entries already stored by its fingerprint, `<key>_sha256` (sha256 hex of its
UTF-8 bytes) and `<key>_length` (characters), the same as `fingerprint()` writes now.

On PostgreSQL it then creates `audit_log_append_only()` and a BEFORE UPDATE OR DELETE trigger
on `audit_log` that raises: the database itself refuses to change or remove an entry. SQLite
gets no trigger (the application never updates or deletes entries; see docs/SECURITY.md).

Downgrade drops the trigger; the text it replaced by fingerprints is not brought back.
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TEXT_KEYS = ("text", "original", "sent", "diff", "reason")  # what entries quoted before 0010
BATCH = 2000

_AUDIT = sa.table(
    "audit_log",
    sa.column("id", sa.BigInteger()),
    sa.column("detail", sa.JSON()),
)

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit entries are written once and never changed (migration 0010)';
END
$$
"""
TRIGGER = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""


def without_text(detail: Any) -> dict[str, Any] | None:
    """The detail with each quoted text replaced by its fingerprint; None when it quotes none."""
    if not isinstance(detail, dict) or not any(key in detail for key in TEXT_KEYS):
        return None
    kept = {k: v for k, v in detail.items() if k not in TEXT_KEYS}
    for key in TEXT_KEYS:
        value = detail.get(key)
        if isinstance(value, str):
            kept[f"{key}_sha256"] = hashlib.sha256(
                value.encode("utf-8", "surrogatepass")
            ).hexdigest()
            kept[f"{key}_length"] = len(value)
    return kept


def upgrade() -> None:
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(_AUDIT.c.id, _AUDIT.c.detail)
            .where(_AUDIT.c.id > last)
            .order_by(_AUDIT.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        changed = [
            {"row_id": row.id, "new_detail": new}
            for row in rows
            if (new := without_text(row.detail)) is not None
        ]
        if changed:
            connection.execute(
                _AUDIT.update()
                .where(_AUDIT.c.id == sa.bindparam("row_id"))
                .values(detail=sa.bindparam("new_detail", type_=sa.JSON())),
                changed,
            )
    if connection.dialect.name == "postgresql":
        op.execute(FUNCTION)
        op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
