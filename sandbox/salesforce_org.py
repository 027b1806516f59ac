"""The records of the local Salesforce server: a tiny org with Accounts, their owners (Users),
Contacts, Cases and Opportunities, and the SOQL subset of `sandbox.salesforce_soql` over them.

Developer tool. Field names are checked against a small schema (unknown ones fail with
INVALID_FIELD, unknown objects with INVALID_TYPE), a Case's ParentId must name a Case
(INVALID_CROSS_REFERENCE_KEY otherwise), and answers have Salesforce's shapes:
`attributes` on every record, parent relationships as nested records (or null), child
relationships as `{totalSize, done, records}` (or null when there are none).
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce_soql import Query, SoqlError, matches, parse

_PREFIX = {"Account": "001", "Contact": "003", "User": "005", "Opportunity": "006", "Case": "500"}
_FIELDS = {
    "Account": ["Id", "Name", "OwnerId", "Type", "Industry"],
    "User": ["Id", "Name", "Email", "Username", "IsActive"],
    "Contact": ["Id", "Name", "Email", "AccountId"],
    "Case": [
        "Id",
        "CaseNumber",
        "Subject",
        "Description",
        "Status",
        "Priority",
        "Origin",
        "AccountId",
        "ContactId",
        "IsClosed",
        "CreatedDate",
        "OwnerId",
        "ParentId",
    ],
    "Opportunity": [
        "Id",
        "Name",
        "StageName",
        "CloseDate",
        "Type",
        "Amount",
        "AccountId",
        "IsClosed",
    ],
}
_PARENTS = {  # (object, relationship) -> (parent object, foreign key)
    ("Account", "Owner"): ("User", "OwnerId"),
    ("Case", "Owner"): ("User", "OwnerId"),
    ("Case", "Account"): ("Account", "AccountId"),
    ("Case", "Contact"): ("Contact", "ContactId"),
    ("Case", "Parent"): ("Case", "ParentId"),
    ("Contact", "Account"): ("Account", "AccountId"),
    ("Opportunity", "Account"): ("Account", "AccountId"),
}
_CHILDREN = {  # (object, child relationship) -> (child object, foreign key)
    ("Account", "Cases"): ("Case", "AccountId"),
    ("Account", "Contacts"): ("Contact", "AccountId"),
    ("Account", "Opportunities"): ("Opportunity", "AccountId"),
    ("Case", "Cases"): ("Case", "ParentId"),
}
# Lookups checked on every write: Salesforce refuses an id that names no record.
_LOOKUPS = {("Case", "ParentId"): "Case"}
READ_ONLY = {"Id", "CaseNumber", "IsClosed", "CreatedDate"}
CLOSED_STATUSES = {"closed", "closed won", "closed lost"}


def _canonical(names: list[str], name: str) -> str | None:
    return next((n for n in names if n.lower() == name.lower()), None)


class SalesforceOrg:
    """In-memory records, safe to share between the server's threads."""

    def __init__(self, *, account_fields: tuple[str, ...], api_version: str) -> None:
        self.fields = {k: list(v) for k, v in _FIELDS.items()}
        self.fields["Account"] += list(account_fields)
        self.api_version = api_version
        self.records: dict[str, dict[str, dict[str, Any]]] = {obj: {} for obj in _FIELDS}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._case_numbers = itertools.count(1001)

    # --- building the org ------------------------------------------------------------------
    def insert(self, obj: str, values: dict[str, Any]) -> str:
        """Store a record (values by field name); returns its 18-character id."""
        with self.lock:
            record_id = f"{_PREFIX[obj]}{next(self._ids):012d}AAA"
            record: dict[str, Any] = {f: None for f in self.fields[obj]}
            for name, value in values.items():
                field = _canonical(self.fields[obj], name)
                if field is None:
                    raise SoqlError(
                        "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}"
                    )
                record[field] = value.isoformat() if isinstance(value, date) else value
            self._check_lookups(obj, record)
            record["Id"] = record_id
            if obj == "Case":
                record["CaseNumber"] = record.get("CaseNumber") or f"{next(self._case_numbers):08d}"
                record["CreatedDate"] = record.get("CreatedDate") or _now()
                record["Status"] = record.get("Status") or "New"
            if obj in ("Case", "Opportunity"):
                status = record.get("Status") or record.get("StageName") or ""
                record["IsClosed"] = (
                    bool(values.get("IsClosed")) or status.lower() in CLOSED_STATUSES
                )
            self.records[obj][record_id] = record
            return record_id

    def update(self, obj: str, record_id: str, values: dict[str, Any]) -> bool:
        """Change fields of a record; False when there is no such record."""
        with self.lock:
            record = self.records[obj].get(record_id)
            if record is None:
                return False
            changed: dict[str, Any] = {}
            for name, value in values.items():
                field = _canonical(self.fields[obj], name)
                if field is None or field in READ_ONLY:
                    raise SoqlError(
                        "INVALID_FIELD",
                        f"No such column '{name}' on sobject of type {obj}"
                        if field is None
                        else f"Unable to create/update fields: {field}.",
                    )
                changed[field] = value
            self._check_lookups(obj, changed)  # nothing is written when one is refused
            record.update(changed)
            if obj == "Case" and "Status" in record:
                record["IsClosed"] = str(record["Status"] or "").lower() in CLOSED_STATUSES
            return True

    def _check_lookups(self, obj: str, values: dict[str, Any]) -> None:
        for (owner, field), target in _LOOKUPS.items():
            value = values.get(field) if owner == obj else None
            if value and value not in self.records[target]:
                raise SoqlError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")

    def get(self, obj: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.records.get(obj, {}).get(record_id)
            return dict(record) if record else None

    # --- SOQL --------------------------------------------------------------------------------
    def query(self, soql: str) -> dict[str, Any]:
        """Run a query: `{totalSize, done, records}` or SoqlError."""
        q = parse(soql)
        if _canonical(list(self.fields), q.obj) is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"\n{soql[:80]}\n^\nERROR at Row:1:Column:1\nsObject type '{q.obj}' is not "
                "supported.",
            )
        obj = str(_canonical(list(self.fields), q.obj))
        with self.lock:
            rows = self._select(obj, q, list(self.records[obj].values()))
            return {"totalSize": len(rows), "done": True, "records": rows}

    def _select(self, obj: str, q: Query, candidates: list[dict[str, Any]]) -> list[dict]:
        for item in q.fields:  # every field must exist, even when nothing matches
            if isinstance(item, str):
                self._value(obj, {}, item, check_only=True)
        for name, _ in q.order:
            self._value(obj, {}, name, check_only=True)
        rows = [r for r in candidates if matches(q.where, lambda f, r=r: self._value(obj, r, f))]
        for name, desc in reversed(q.order):
            rows.sort(key=lambda r, n=name: _sort_key(self._value(obj, r, n)), reverse=desc)
        if q.limit is not None:
            rows = rows[: q.limit]
        return [self._render(obj, r, q) for r in rows]

    def _render(self, obj: str, record: dict[str, Any], q: Query) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self._attributes(obj, record["Id"])}
        for item in q.fields:
            if isinstance(item, Query):
                out.update(self._children(obj, record, item))
                continue
            parts = item.split(".")
            if len(parts) == 1:
                out[str(_canonical(self.fields[obj], item))] = record.get(
                    str(_canonical(self.fields[obj], item))
                )
                continue
            parent_obj, key = _PARENTS[(obj, self._relationship(obj, parts[0]))]
            parent = self.records[parent_obj].get(record.get(key) or "")
            rel = self._relationship(obj, parts[0])
            if parent is None:
                out[rel] = None
                continue
            nested = out.get(rel) or {"attributes": self._attributes(parent_obj, parent["Id"])}
            field = str(_canonical(self.fields[parent_obj], parts[1]))
            nested[field] = parent.get(field)
            out[rel] = nested
        return out

    def _children(self, obj: str, record: dict[str, Any], sub: Query) -> dict[str, Any]:
        name = next((c for (o, c) in _CHILDREN if o == obj and c.lower() == sub.obj.lower()), None)
        if name is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.obj}' in FROM part of query call.",
            )
        child_obj, key = _CHILDREN[(obj, name)]
        kids = [r for r in self.records[child_obj].values() if r.get(key) == record["Id"]]
        rows = self._select(child_obj, sub, kids)
        return {name: {"totalSize": len(rows), "done": True, "records": rows} if rows else None}

    def _relationship(self, obj: str, name: str) -> str:
        rel = next((r for (o, r) in _PARENTS if o == obj and r.lower() == name.lower()), None)
        if rel is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{name}' in field "
                f"path. No such column '{name}' on entity '{obj}'.",
            )
        return rel

    def _value(self, obj: str, record: dict[str, Any], path: str, check_only: bool = False) -> Any:
        parts = path.split(".")
        if len(parts) == 1:
            field = _canonical(self.fields[obj], path)
            if field is None:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"\nERROR at Row:1:Column:1\nNo such column '{path}' on entity '{obj}'. If "
                    "you are attempting to use a custom field, be sure to append the '__c' after "
                    "the custom field name.",
                )
            return record.get(field)
        parent_obj, key = _PARENTS[(obj, self._relationship(obj, parts[0]))]
        if check_only:
            return self._value(parent_obj, {}, ".".join(parts[1:]), check_only=True)
        parent = self.records[parent_obj].get(record.get(key) or "")
        return self._value(parent_obj, parent or {}, ".".join(parts[1:]))

    def _attributes(self, obj: str, record_id: str) -> dict[str, str]:
        return {
            "type": obj,
            "url": f"/services/data/v{self.api_version}/sobjects/{obj}/{record_id}",
        }


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")  # nulls first, as Salesforce sorts ascending by default
    if isinstance(value, bool | int | float):
        return (1, float(value))
    return (1, str(value).casefold())


def _now() -> str:
    """A datetime the way Salesforce writes them: 2026-11-21T09:12:00.000+0000."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def salesforce_datetime(value: datetime) -> str:
    """Format a datetime like Salesforce's CreatedDate."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
