"""`AccountDirectory` on Salesforce's REST API, through simple-salesforce.

A request's whole context is ONE SOQL query: the Account with its owner (relationship fields)
and its open Cases, open Opportunities and the customer's Contact (child subqueries). Values
are quoted by simple-salesforce's `format_soql`, never concatenated; field names come from
settings and are checked to be plain identifiers.

Failures become `CrmUnavailable` with a short reason. simple-salesforce's own exceptions carry
the request URL, and with it the SOQL and the customer's email, so they are never logged or
shown as they are.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import structlog
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

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
    require_field_name,
)
from integrations.salesforce_auth import SalesforceAuth
from integrations.settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")
_SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
LIMIT_PAUSE_SECONDS = 300  # REQUEST_LIMIT_EXCEEDED: the org's 24-hour allowance is spent
TIMEOUT_PAUSE_SECONDS = 30  # a CRM that hangs: do not make every request wait it out
# A 400 is Salesforce refusing the call itself, except a record locked by another write.
_TRANSIENT_400 = frozenset({"UNABLE_TO_LOCK_ROW"})
MAX_OPEN_CASES = 100
MAX_OPPORTUNITIES = 20


class BoundedSession(requests.Session):
    """A requests session whose every call has a timeout (simple-salesforce sets none) and is
    logged by method and path only: the query string holds SOQL, and with it customer data."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        path = urlsplit(url if isinstance(url, str) else url.decode()).path
        started = time.monotonic()
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            log.warning(
                "salesforce.request_failed", method=method, path=path, error=type(exc).__name__
            )
            raise
        log.info(
            "salesforce.request",
            method=method,
            path=path,
            status=response.status_code,
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return response


class SalesforceDirectory:
    """The accounts, contacts and cases of one Salesforce org."""

    def __init__(self, auth: SalesforceAuth, settings: Settings) -> None:
        self.auth = auth
        self.mode = auth.mode
        self.channel_field = require_field_name(
            settings.salesforce_channel_field, "SALESFORCE_CHANNEL_FIELD"
        )
        self.tier_field = require_field_name(
            settings.salesforce_tier_field, "SALESFORCE_TIER_FIELD"
        )
        hours = settings.salesforce_business_hours_field
        self.hours_field = (
            require_field_name(hours, "SALESFORCE_BUSINESS_HOURS_FIELD") if hours else None
        )
        self.timeout = settings.salesforce_timeout_seconds
        self._session = BoundedSession(self.timeout)
        self._client: Salesforce | None = None
        self._lock = threading.Lock()

    # --- AccountDirectory ----------------------------------------------------------------------
    def account_for_channel(self, channel_id: str) -> AccountRef | None:
        soql = format_soql(
            "SELECT Id, Name FROM Account WHERE {field:literal} = {channel} LIMIT 2",
            field=self.channel_field,
            channel=channel_id,
        )
        records = self._query("account_for_channel", soql)
        return AccountRef(records[0]["Id"], records[0]["Name"]) if records else None

    def find_accounts(self, query: str) -> list[AccountRef]:
        query = query.strip()
        if _SALESFORCE_ID.match(query):
            soql = format_soql("SELECT Id, Name FROM Account WHERE Id = {} LIMIT 1", query)
            records = self._query("find_account", soql)
            if records:
                return [AccountRef(records[0]["Id"], records[0]["Name"])]
        soql = format_soql(
            "SELECT Id, Name FROM Account WHERE Name = {name} OR Name LIKE '%{name:like}%' "
            "ORDER BY Name LIMIT 10",
            name=query,
        )
        found = [AccountRef(r["Id"], r["Name"]) for r in self._query("find_accounts", soql)]
        return sorted(found, key=lambda a: a.name.casefold() != query.casefold())

    def context(
        self, *, channel_id: str, account_id: str | None, customer_email: str | None
    ) -> AccountContext | None:
        records = self._query("context", self.context_soql(channel_id, account_id, customer_email))
        if len(records) > 1:
            log.warning("salesforce.channel_ambiguous", channel=channel_id, accounts=len(records))
        return self._account(records[0]) if records else None

    def create_case(self, case: NewCase) -> str:
        data = {
            "Subject": case.subject[:255],
            "Description": case.description,
            "Priority": case.priority,
            "Origin": case.origin,
        }
        if case.account_id:  # an incident's parent Case has none
            data["AccountId"] = case.account_id
        if case.contact_id:
            data["ContactId"] = case.contact_id
        if case.parent_id:
            data["ParentId"] = case.parent_id
        result = self._call("create_case", lambda sf: _sobject(sf, "Case").create(data))
        log.info("salesforce.case_created", case_id=result["id"], account_id=case.account_id)
        return str(result["id"])

    def update_case(self, case_id: str, fields: dict[str, Any]) -> None:
        self._call("update_case", lambda sf: _sobject(sf, "Case").update(case_id, fields))
        log.info("salesforce.case_updated", case_id=case_id, fields=sorted(fields))

    def check(self) -> str:
        soql = format_soql(
            "SELECT Id, Name, {tier:literal}, {channel:literal} FROM Account LIMIT 1",
            tier=self.tier_field,
            channel=self.channel_field,
        )
        try:
            self._query("check", soql)
        except CrmUnavailable as exc:
            raise CrmUnavailable(f"{exc.reason} (auth: {self.mode})") from None
        instance = self._client.sf_instance if self._client else self.auth.where
        return f"answers at https://{instance} (auth: {self.mode})"

    # --- the query ---------------------------------------------------------------------------
    def context_soql(self, channel_id: str, account_id: str | None, email: str | None) -> str:
        """The one query behind a card: the account, its owner, open cases and opportunities,
        and the contact with the customer's email."""
        contact = ""
        if email:
            contact = format_soql(
                ", (SELECT Id, Name, Email FROM Contacts WHERE Email = {} LIMIT 1)", email
            )
        if account_id:
            where = format_soql("Id = {}", account_id)
        else:
            where = format_soql(
                "{field:literal} = {channel}", field=self.channel_field, channel=channel_id
            )
        return (
            f"SELECT Id, Name, {self.tier_field}, Owner.Name, Owner.Email, "
            + (f"{self.hours_field}, " if self.hours_field else "")
            + "(SELECT Id, CaseNumber, Subject, Status, Priority, CreatedDate, Owner.Name, "
            "Owner.Email FROM Cases "
            f"WHERE IsClosed = false ORDER BY CreatedDate LIMIT {MAX_OPEN_CASES}), "
            "(SELECT Id, Name, StageName, CloseDate, Type, Amount FROM Opportunities "
            f"WHERE IsClosed = false ORDER BY CloseDate LIMIT {MAX_OPPORTUNITIES})"
            f"{contact} FROM Account WHERE {where} LIMIT 2"
        )

    def _account(self, record: dict[str, Any]) -> AccountContext:
        owner = record.get("Owner") or {}
        cases = [
            OpenCase(
                id=c["Id"],
                number=str(c.get("CaseNumber") or ""),
                subject=c.get("Subject") or "(no subject)",
                status=c.get("Status") or "",
                priority=c.get("Priority") or "",
                opened_at=_datetime(c.get("CreatedDate")),
                owner=_owner(c.get("Owner")),
            )
            for c in _children(record, "Cases")
        ]
        opportunities = [
            Opportunity(
                id=o["Id"],
                name=o.get("Name") or "",
                stage=o.get("StageName") or "",
                close_date=_date(o.get("CloseDate")),
                type=o.get("Type"),
                amount=o.get("Amount"),
            )
            for o in _children(record, "Opportunities")
        ]
        contacts = _children(record, "Contacts")
        contact = (
            Contact(contacts[0]["Id"], contacts[0].get("Name") or "", contacts[0].get("Email"))
            if contacts
            else None
        )
        tier = record.get(self.tier_field)
        hours = record.get(self.hours_field) if self.hours_field else None
        return AccountContext(
            id=record["Id"],
            name=record.get("Name") or "",
            tier=str(tier) if tier else None,
            owner=Owner(owner.get("Name") or "", owner.get("Email")) if owner else None,
            open_cases=cases,
            opportunities=opportunities,
            renewal_date=renewal_from(opportunities),
            contact=contact,
            business_hours=str(hours) if hours else None,
        )

    # --- calls, sessions and failures -------------------------------------------------------
    def _query(self, what: str, soql: str) -> list[dict[str, Any]]:
        result = self._call(what, lambda sf: sf.query(soql))
        return list(result.get("records") or [])

    def _call(self, what: str, call: Callable[[Salesforce], T]) -> T:
        """One API call; an expired session is renewed by logging in again, once."""
        try:
            client = self._connected()
            try:
                return call(client)
            except SalesforceExpiredSession:
                if not self.auth.can_log_in:
                    raise CrmUnavailable(
                        "Salesforce session expired: SALESFORCE_ACCESS_TOKEN needs replacing"
                    ) from None
                log.info("salesforce.reauth", mode=self.mode, call=what)
                client = self._connected(expired=client)
                return call(client)
        except SalesforceError as exc:
            raise _unavailable(exc) from None
        except requests.Timeout:
            raise CrmUnavailable(
                f"Salesforce did not answer within {self.timeout:g} s",
                pause_seconds=TIMEOUT_PAUSE_SECONDS,
            ) from None
        except requests.RequestException as exc:
            raise CrmUnavailable(f"cannot reach Salesforce ({type(exc).__name__})") from None
        except (ValueError, KeyError, TypeError) as exc:  # not the JSON Salesforce sends
            raise CrmUnavailable(
                f"unexpected answer from Salesforce ({type(exc).__name__})"
            ) from None

    def _connected(self, *, expired: Salesforce | None = None) -> Salesforce:
        with self._lock:
            if self._client is None or self._client is expired:
                self._client = None
                self._client = self.auth.connect(self._session)
                log.info("salesforce.connected", mode=self.mode)
            return self._client


def _unavailable(exc: SalesforceError) -> CrmUnavailable:
    code = _error_code(exc)
    if isinstance(exc, SalesforceExpiredSession):
        return CrmUnavailable("Salesforce session expired, and logging in again did not help")
    if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
        return CrmUnavailable(
            "Salesforce API request limit exceeded", pause_seconds=LIMIT_PAUSE_SECONDS
        )
    if isinstance(exc, SalesforceRefusedRequest):
        return CrmUnavailable(f"Salesforce refused the request ({code or exc.status})")
    if isinstance(exc, SalesforceMalformedRequest):
        return CrmUnavailable(
            f"Salesforce rejected the query ({code or exc.status}): "
            + (_last_line(exc) if code in ("INVALID_FIELD", "INVALID_TYPE") else "see the logs"),
            permanent=code not in _TRANSIENT_400,
        )
    if isinstance(exc, SalesforceResourceNotFound):
        return CrmUnavailable(f"Salesforce record not found ({code or exc.status})", permanent=True)
    return CrmUnavailable(f"Salesforce error (HTTP {exc.status}{f', {code}' if code else ''})")


def _error_code(exc: SalesforceError) -> str | None:
    """The errorCode of Salesforce's error body (a JSON array of {message, errorCode})."""
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode") or "") or None
    return None


def _last_line(exc: SalesforceError) -> str:
    """The last line of an INVALID_FIELD/INVALID_TYPE message names the bad field or object;
    the earlier lines echo the query (and its values), which stay out of the card."""
    content = exc.content
    message = content[0].get("message", "") if isinstance(content, list) and content else ""
    return str(message).strip().splitlines()[-1][:200] if message else "see the logs"


def _children(record: dict[str, Any], relationship: str) -> list[dict[str, Any]]:
    """A child subquery's records; Salesforce answers null when there are none."""
    return list((record.get(relationship) or {}).get("records") or [])


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _sobject(sf: Salesforce, name: str) -> Any:
    """`sf.Case` and friends: simple-salesforce resolves them dynamically (untyped)."""
    return getattr(sf, name)


def _owner(record: dict[str, Any] | None) -> Owner | None:
    """A related Owner record (a User; a queue has no email and maps to no one)."""
    if not record:
        return None
    return Owner(record.get("Name") or "", record.get("Email"))
