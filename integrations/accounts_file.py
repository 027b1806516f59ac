"""`AccountDirectory` on a local YAML or JSON file (`ACCOUNTS_FILE`), for running without
Salesforce and for `triage demo` (`sandbox/accounts.yaml`).

The file lists accounts, each with its Slack channel, tier, owner, contacts, open cases and
opportunities (see `sandbox/accounts.yaml`). A date is `YYYY-MM-DD`, or a whole number of days
from today (`renewal: 45`, `opened: -3`), so a bundled example never goes stale. The file is
re-read when it changes. Cases the app opens (an escalation's, an incident's parent Case and
the accounts' Cases under it) are kept in memory only: the file is the team's, and is never
written. `opened_case` shows one as Salesforce would hold it.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from integrations.salesforce import (
    AccountContext,
    AccountRef,
    Contact,
    CrmUnavailable,
    NewCase,
    OpenCase,
    Opportunity,
    Owner,
    renewal_from,
)

Day = date | int  # an ISO date, or days from today


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerEntry(_Entry):
    name: str
    email: str | None = None


class ContactEntry(_Entry):
    id: str
    name: str
    email: str | None = None


class CaseEntry(_Entry):
    id: str
    number: str = ""
    subject: str
    status: str = "New"
    priority: str = "Medium"
    opened: Day | None = None
    closed: bool = False
    owner: OwnerEntry | None = None  # who works the case


class OpportunityEntry(_Entry):
    id: str
    name: str
    stage: str = "Prospecting"
    close: Day | None = None
    type: str | None = None
    amount: float | None = None
    closed: bool = False


class AccountEntry(_Entry):
    id: str
    name: str
    channel: str | None = None  # the Slack channel id (what SALESFORCE_CHANNEL_FIELD holds)
    tier: str | None = None
    owner: OwnerEntry | None = None
    renewal: Day | None = None  # else: the earliest open opportunity of a renewal type
    business_hours: str | None = None  # e.g. "mon-sat 08:00-20:00 Europe/Berlin"
    contacts: list[ContactEntry] = Field(default_factory=list)
    cases: list[CaseEntry] = Field(default_factory=list)
    opportunities: list[OpportunityEntry] = Field(default_factory=list)


class AccountsFileModel(_Entry):
    accounts: list[AccountEntry]


class AccountsFile:
    """Accounts from a file the team keeps; same interface as Salesforce."""

    mode = "accounts file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._loaded: tuple[float, AccountsFileModel] | None = None
        self._new_cases: dict[str, tuple[NewCase, dict[str, Any]]] = {}
        self._numbers = itertools.count(1)

    def account_for_channel(self, channel_id: str) -> AccountRef | None:
        entry = next((a for a in self._accounts() if a.channel == channel_id), None)
        return AccountRef(entry.id, entry.name) if entry else None

    def find_accounts(self, query: str) -> list[AccountRef]:
        wanted = query.strip().casefold()
        accounts = self._accounts()
        by_id = [a for a in accounts if a.id.casefold() == wanted]
        exact = [a for a in accounts if a.name.casefold() == wanted]
        partial = [a for a in accounts if wanted in a.name.casefold() and a not in exact]
        return [AccountRef(a.id, a.name) for a in (by_id or [*exact, *partial])][:10]

    def context(
        self, *, channel_id: str, account_id: str | None, customer_email: str | None
    ) -> AccountContext | None:
        accounts = self._accounts()
        if account_id:
            entry = next((a for a in accounts if a.id == account_id), None)
        else:
            entry = next((a for a in accounts if a.channel == channel_id), None)
        return self._context(entry, customer_email) if entry else None

    def create_case(self, case: NewCase) -> str:
        """A Case on an account of the file, or on none (an incident's parent Case). A
        ParentId is taken as it is: the parent may be another process's Case, which this one
        cannot see."""
        accounts = self._accounts()
        if case.account_id is not None and not any(a.id == case.account_id for a in accounts):
            raise CrmUnavailable(
                f"no account {case.account_id} in {self.path.name}", permanent=True
            )
        with self._lock:
            number = next(self._numbers)
            case_id = f"500LOCAL{number:07d}"
            fields = {"CaseNumber": f"L{number:07d}", "Status": "New"}
            if case.parent_id:
                fields["ParentId"] = case.parent_id
            self._new_cases[case_id] = (case, fields)
        return case_id

    def update_case(self, case_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            if case_id not in self._new_cases:
                raise CrmUnavailable(f"no case {case_id} opened by this process", permanent=True)
            self._new_cases[case_id][1].update(fields)

    def opened_case(self, case_id: str) -> dict[str, Any] | None:
        """A Case this process opened, by Salesforce's field names; None when there is none."""
        with self._lock:
            found = self._new_cases.get(case_id)
            if found is None:
                return None
            case, fields = found
            return {
                "Id": case_id,
                "AccountId": case.account_id,
                "ContactId": case.contact_id,
                "Subject": case.subject,
                "Description": case.description,
                "Priority": case.priority,
                "Origin": case.origin,
                "ParentId": None,
                **fields,
            }

    def check(self) -> str:
        accounts = self._accounts()
        linked = sum(1 for a in accounts if a.channel)
        return f"{len(accounts)} accounts ({linked} with a channel) in {self.path}"

    # --- reading the file --------------------------------------------------------------------
    def _accounts(self) -> list[AccountEntry]:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            raise CrmUnavailable(f"ACCOUNTS_FILE not found: {self.path}") from None
        with self._lock:
            if self._loaded is None or self._loaded[0] != mtime:
                self._loaded = (mtime, self._parse())
            return self._loaded[1].accounts

    def _parse(self) -> AccountsFileModel:
        try:
            text = self.path.read_text(encoding="utf-8")
            data = json.loads(text) if self.path.suffix == ".json" else yaml.safe_load(text)
            return AccountsFileModel.model_validate(data)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            where = ""
            if isinstance(exc, ValidationError):
                first = exc.errors()[0]
                where = f" at {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            raise CrmUnavailable(f"ACCOUNTS_FILE {self.path.name} is invalid{where}") from None

    def _context(self, entry: AccountEntry, email: str | None) -> AccountContext:
        today = datetime.now(UTC).date()
        cases = [
            OpenCase(
                id=c.id,
                number=c.number,
                subject=c.subject,
                status=c.status,
                priority=c.priority,
                opened_at=_at(c.opened, today),
                owner=Owner(c.owner.name, c.owner.email) if c.owner else None,
            )
            for c in entry.cases
            if not c.closed
        ]
        with self._lock:
            for case_id, (new, fields) in self._new_cases.items():
                if new.account_id == entry.id and not fields.get("IsClosed"):
                    cases.append(
                        OpenCase(
                            id=case_id,
                            number=fields["CaseNumber"],
                            subject=fields.get("Subject", new.subject),
                            status=fields["Status"],
                            priority=fields.get("Priority", new.priority),
                            opened_at=datetime.now(UTC),
                        )
                    )
        opportunities = [
            Opportunity(o.id, o.name, o.stage, _day(o.close, today), o.type, o.amount)
            for o in entry.opportunities
            if not o.closed
        ]
        wanted = (email or "").casefold()
        contact = next(
            (c for c in entry.contacts if wanted and (c.email or "").casefold() == wanted), None
        )
        return AccountContext(
            id=entry.id,
            name=entry.name,
            tier=entry.tier,
            owner=Owner(entry.owner.name, entry.owner.email) if entry.owner else None,
            open_cases=cases,
            opportunities=opportunities,
            renewal_date=_day(entry.renewal, today) or renewal_from(opportunities),
            contact=Contact(contact.id, contact.name, contact.email) if contact else None,
            business_hours=entry.business_hours,
        )


def _day(value: Day | None, today: date) -> date | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return today + timedelta(days=value)
    return value if isinstance(value, date) else None  # YAML's `yes` is no date


def _at(value: Day | None, today: date) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.now(UTC) + timedelta(days=value)  # "-2": two days ago, to the hour
    if not isinstance(value, date):
        return None
    return datetime(value.year, value.month, value.day, 9, 0, tzinfo=UTC)
