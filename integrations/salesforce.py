"""The CRM behind the card (SPEC §5.3, §6.2): who the customer is, and their Cases.

`AccountDirectory` is the small interface the app uses. Two implementations:

- `integrations.salesforce_api.SalesforceDirectory`: Salesforce's REST API through
  simple-salesforce, in any auth mode of SPEC §4 (`integrations.salesforce_auth`);
- `integrations.accounts_file.AccountsFile`: a local YAML or JSON file (`ACCOUNTS_FILE`), used
  by `triage demo` and by teams without Salesforce.

`integrations.deps.build_account_directory(settings)` picks one; it makes no network call
(Salesforce logs in on first use). Every failure that should degrade the card to "context
unavailable" is raised as `CrmUnavailable` with a reason a person can act on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from integrations.settings import ConfigError


class CrmUnavailable(Exception):
    """The CRM cannot answer now; `reason` is shown on the card ("context unavailable (...)").

    `pause_seconds` > 0 asks callers to stop asking for that long (an exhausted API limit,
    a CRM that hangs), so a backlog of requests does not each wait out a timeout.
    `permanent`: the CRM refused this very call (a record that does not exist, a value it
    will not take); asking again later will not help, unlike an outage.
    """

    def __init__(self, reason: str, *, pause_seconds: float = 0, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pause_seconds = pause_seconds
        self.permanent = permanent


@dataclass(frozen=True)
class AccountRef:
    """An account as a search result: enough to link a channel to it."""

    id: str
    name: str


@dataclass(frozen=True)
class Owner:
    name: str
    email: str | None = None


@dataclass(frozen=True)
class OpenCase:
    id: str
    number: str
    subject: str
    status: str
    priority: str
    opened_at: datetime | None = None
    owner: Owner | None = None  # who works the case: part of the account team (SPEC §5.5)


@dataclass(frozen=True)
class Opportunity:
    id: str
    name: str
    stage: str
    close_date: date | None = None
    type: str | None = None
    amount: float | None = None


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    email: str | None = None


@dataclass(frozen=True)
class AccountContext:
    """One account as the card and the drafter see it; nothing of any other account."""

    id: str
    name: str
    tier: str | None = None
    owner: Owner | None = None
    open_cases: list[OpenCase] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)
    renewal_date: date | None = None
    contact: Contact | None = None
    business_hours: str | None = None  # overrides BUSINESS_HOURS for this account's SLA

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO strings): what the cache and `requests.context` hold."""
        return _jsonable(asdict(self))


def renewal_from(opportunities: list[Opportunity]) -> date | None:
    """The renewal date: the close date of the earliest open Opportunity of a renewal type."""
    dates = [
        o.close_date
        for o in opportunities
        if o.close_date and o.type and "renewal" in o.type.lower()
    ]
    return min(dates, default=None)


@dataclass(frozen=True)
class NewCase:
    """A Case the app opens: on an account (escalation, SPEC §6.2; an account's report of an
    incident), or on none (an incident's parent Case spans accounts, SPEC §6.6)."""

    account_id: str | None
    subject: str
    description: str  # carries the request's permalink
    priority: str  # a Salesforce Priority value (CASE_PRIORITY maps P1-P4 to these)
    contact_id: str | None = None
    origin: str = "Slack"
    parent_id: str | None = None  # ParentId: the incident's parent Case


class AccountDirectory(Protocol):
    """What the app needs of a CRM."""

    #: How it is reached, for `triage doctor` and logs: "access token", "accounts file"...
    mode: str

    def account_for_channel(self, channel_id: str) -> AccountRef | None:
        """The account whose channel field holds this Slack channel id, if any."""
        ...

    def find_accounts(self, query: str) -> list[AccountRef]:
        """Accounts matching an id, or a name (exact matches first), for `/triage link`."""
        ...

    def context(
        self, *, channel_id: str, account_id: str | None, customer_email: str | None
    ) -> AccountContext | None:
        """The account of a channel (the linked `account_id`, else by the channel field), its
        owner, tier, open cases and opportunities, and the contact with the customer's email;
        None when no account is found. One API call where the CRM allows it."""
        ...

    def create_case(self, case: NewCase) -> str:
        """Open a Case; returns its id."""
        ...

    def update_case(self, case_id: str, fields: dict[str, Any]) -> None:
        """Change fields of a Case (Priority, Status, Description, ParentId...)."""
        ...

    def check(self) -> str:
        """Reach the CRM once; a one-line description of what answered, or CrmUnavailable."""
        ...


def require_field_name(name: str, setting: str) -> str:
    """A Salesforce field name is an identifier in SOQL, never a quoted value: allow only
    letters, digits and underscores so no setting can change a query's meaning."""
    if not name or not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ConfigError(f"{setting} is invalid: {name!r} is not a Salesforce field name")
    return name


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
