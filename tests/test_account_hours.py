"""An account's own business hours (accounts file, or a Salesforce field) drive its SLA."""

from __future__ import annotations

import pytest

from integrations.accounts_file import AccountsFile
from integrations.deps import build_account_directory
from integrations.settings import load_settings
from sandbox.salesforce_server import SalesforceServer
from tests import salesforce_world as sfw
from tests.harness import REPO
from workers.sla import policy_for
from workers.stage_data import RequestContext

DEFAULT = "mon-fri 09:00-18:00 UTC"


def _policy_hours(channel: str) -> str:
    accounts = AccountsFile(str(REPO / "sandbox" / "accounts.yaml"))
    account = accounts.context(channel_id=channel, account_id=None, customer_email=None)
    assert account is not None
    context = RequestContext.model_validate({"status": "ok", "account": account.to_dict()})
    return policy_for(load_settings(_env_file=None, business_hours=DEFAULT), context).hours.text


def test_an_accounts_own_hours_override_business_hours() -> None:
    assert _policy_hours("C0UMBRELLA") == "mon-fri 08:00-17:00 America/Chicago"
    assert _policy_hours("C0GLOBEX") == DEFAULT  # no override: BUSINESS_HOURS


def test_a_malformed_override_falls_back_to_business_hours() -> None:
    context = RequestContext.model_validate(
        {"status": "ok", "account": {"id": "A", "business_hours": "whenever"}}
    )
    settings = load_settings(_env_file=None, business_hours=DEFAULT)
    assert policy_for(settings, context).hours.text == DEFAULT


def test_salesforce_reads_the_hours_from_the_configured_account_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = SalesforceServer(
        username=sfw.USERNAME,
        password=sfw.PASSWORD,
        security_token=sfw.SECURITY_TOKEN,
        extra_account_fields=("Support_Hours__c",),
    )
    with server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
        owner = server.add_user("Amy Adams", "amy@acme.test")
        account = server.add_account(
            "Globex", channel="C0GLOBEX", tier="enterprise", owner_id=owner
        )
        server.org.update("Account", account, {"Support_Hours__c": "mon-sat 07:00-19:00 UTC"})
        settings = load_settings(
            _env_file=None,
            salesforce_instance_url=server.url,
            salesforce_access_token=server.issue_session(),
            salesforce_business_hours_field="Support_Hours__c",
        )
        crm = build_account_directory(settings)
        assert crm is not None
        found = crm.context(channel_id="C0GLOBEX", account_id=None, customer_email=None)
    assert found is not None and found.business_hours == "mon-sat 07:00-19:00 UTC"
