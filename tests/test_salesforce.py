"""The Salesforce adapter: the real simple-salesforce client against the local HTTPS server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from integrations.deps import build_account_directory
from integrations.salesforce import CrmUnavailable, NewCase
from integrations.salesforce_api import SalesforceDirectory
from integrations.settings import ConfigError, load_settings
from sandbox.world import SHARED
from tests import salesforce_world
from tests.salesforce_world import Org, auth_settings, rsa_key_pair

org, jwt_keys = salesforce_world.org, salesforce_world.jwt_keys  # fixtures

MODES = ["access token", "password", "jwt"]


def directory(
    org: Org, mode: str, keys: tuple[Path, bytes] | None = None, **extra: object
) -> SalesforceDirectory:
    values = {**auth_settings(org, mode, keys[0] if keys else None), **extra}
    found = build_account_directory(load_settings(_env_file=None, **values))
    assert isinstance(found, SalesforceDirectory)
    return found


@pytest.mark.parametrize("mode", MODES)
def test_every_auth_mode_reads_a_channels_context_in_one_query(
    org: Org, jwt_keys: tuple[Path, bytes], mode: str
) -> None:
    crm = directory(org, mode, jwt_keys)
    assert f"auth: {crm.mode}" in crm.check()
    org.server.clear_requests()

    account = crm.context(channel_id=SHARED, account_id=None, customer_email="carol@globex.test")

    assert account is not None
    assert (account.id, account.name, account.tier) == (
        org.globex,
        "Globex Corporation",
        "enterprise",
    )
    assert account.owner is not None and account.owner.email == "amy@acme.test"
    assert sorted(c.subject for c in account.open_cases) == [
        "SSO outage for the EU tenant",
        "Webhook retries pile up",
    ]  # the closed case is not there
    assert account.renewal_date == org.renewal  # the renewal opportunity, not the upsell
    assert account.contact is not None and account.contact.id == org.carol
    assert len(org.server.api_calls()) == 1 and org.server.logins() == []


def test_the_login_modes_really_log_in(org: Org, jwt_keys: tuple[Path, bytes]) -> None:
    for mode, path in [("password", "/services/Soap/u/59.0"), ("jwt", "/services/oauth2/token")]:
        org.server.clear_requests()
        directory(org, mode, jwt_keys).check()
        assert [(r.path, r.status) for r in org.server.logins()] == [(path, 200)]


def test_wrong_credentials_are_a_reason_not_a_crash(org: Org, tmp_path: Path) -> None:
    with pytest.raises(CrmUnavailable, match=r"login failed \(INVALID_LOGIN\)"):
        directory(org, "password", salesforce_password="wrong").check()
    (tmp_path / "other").mkdir()
    other_key, _ = rsa_key_pair(tmp_path / "other")  # not the key the connected app knows
    with pytest.raises(CrmUnavailable, match=r"login failed \(invalid_grant\)"):
        directory(org, "jwt", (other_key, b"")).check()


def test_a_name_with_a_quote_and_an_ampersand_is_quoted_not_concatenated(org: Org) -> None:
    crm = directory(org, "access token")
    org.server.clear_requests()

    found = crm.find_accounts("O'Brien & Co")

    assert [a.name for a in found] == ["O'Brien & Co", "O'Brien & Co Holdings"]  # exact first
    soql = org.server.api_calls()[0].soql or ""
    assert "Name = 'O\\'Brien & Co'" in soql
    account = crm.context(
        channel_id="C0NONE", account_id=found[0].id, customer_email="sean.o'brien@obrien.test"
    )
    assert account is not None and account.contact is not None
    assert account.contact.name == "Sean O'Brien"


def test_a_channel_without_an_account_has_no_context(org: Org) -> None:
    crm = directory(org, "access token")
    assert crm.context(channel_id="C0UNKNOWN", account_id=None, customer_email=None) is None
    assert crm.account_for_channel(SHARED) is not None


def test_an_expired_session_logs_in_again_once(org: Org) -> None:
    crm = directory(org, "password")
    crm.check()
    org.server.expire_sessions()
    org.server.clear_requests()

    assert crm.context(channel_id=SHARED, account_id=None, customer_email=None) is not None
    assert [r.status for r in org.server.api_calls()] == [401, 200]
    assert len(org.server.logins()) == 1

    org.server.fail("INVALID_SESSION_ID", times=5)  # a session that never works: no loop
    org.server.clear_requests()
    with pytest.raises(CrmUnavailable, match="session expired"):
        crm.context(channel_id=SHARED, account_id=None, customer_email=None)
    assert len(org.server.api_calls()) == 2 and len(org.server.logins()) == 1


@pytest.mark.parametrize(
    ("fault", "reason", "pause"),
    [
        ("INVALID_SESSION_ID", "Salesforce session expired: SALESFORCE_ACCESS_TOKEN needs", False),
        ("REQUEST_LIMIT_EXCEEDED", "Salesforce API request limit exceeded", True),
        ("SERVER_ERROR", "Salesforce error (HTTP 500, UNKNOWN_EXCEPTION)", False),
        ("HANG", "Salesforce did not answer within 1 s", True),
    ],
)
def test_failures_become_reasons(org: Org, fault: str, reason: str, pause: bool) -> None:
    crm = directory(org, "access token", salesforce_timeout_seconds=1)
    org.server.fail(fault)
    with pytest.raises(CrmUnavailable) as raised:
        crm.context(channel_id=SHARED, account_id=None, customer_email="carol@globex.test")
    assert raised.value.reason.startswith(reason)
    assert "carol" not in raised.value.reason and "SELECT" not in raised.value.reason
    assert (raised.value.pause_seconds > 0) == pause


def test_a_case_is_created_on_the_account_and_updated(org: Org) -> None:
    crm = directory(org, "access token")
    case_id = crm.create_case(
        NewCase(
            account_id=org.globex,
            subject="P1: SAML login fails for all users",
            description="Escalated from Slack: https://acme.slack.com/archives/C0GLOBEX/p1",
            priority="High",
            contact_id=org.carol,
        )
    )
    case = org.server.record("Case", case_id)
    assert case is not None
    assert (case["AccountId"], case["Priority"], case["Origin"], case["ContactId"]) == (
        org.globex,
        "High",
        "Slack",
        org.carol,
    )
    assert "https://acme.slack.com/archives/C0GLOBEX/p1" in case["Description"]

    crm.update_case(case_id, {"Priority": "Medium", "Status": "Escalated"})
    case = org.server.record("Case", case_id)
    assert case is not None and (case["Priority"], case["Status"]) == ("Medium", "Escalated")

    with pytest.raises(CrmUnavailable, match="not found"):
        crm.update_case("500000000000999AAA", {"Priority": "Low"})


def test_a_missing_field_is_named_by_check(org: Org) -> None:
    crm = directory(org, "access token", salesforce_tier_field="Support_Tier__c")
    with pytest.raises(CrmUnavailable, match="No such column 'Support_Tier__c'"):
        crm.check()


def test_half_a_configuration_is_one_line_naming_what_is_missing(tmp_path: Path) -> None:
    cases = [
        ({"salesforce_access_token": "x"}, "SALESFORCE_INSTANCE_URL is not set"),
        ({"salesforce_username": "u"}, "SALESFORCE_PASSWORD is not set"),
        ({"salesforce_consumer_key": "k"}, "SALESFORCE_PRIVATE_KEY_FILE is not set"),
        (
            {
                "salesforce_consumer_key": "k",
                "salesforce_private_key_file": str(tmp_path / "no"),
                "salesforce_username": "u",
            },
            "SALESFORCE_PRIVATE_KEY_FILE is invalid: no such file",
        ),
        (
            {
                "salesforce_instance_url": "https://x",
                "salesforce_access_token": "t",
                "salesforce_channel_field": "Slack_Channel__c = '' OR Name",
            },
            "SALESFORCE_CHANNEL_FIELD is invalid",
        ),
    ]
    for values, message in cases:
        with pytest.raises(ConfigError, match=message):
            build_account_directory(load_settings(_env_file=None, **values))
    assert build_account_directory(load_settings(_env_file=None)) is None


def test_a_deployment_without_salesforce_never_loads_its_client(tmp_path: Path) -> None:
    """simple-salesforce (zeep, lxml) and PyJWT cost ~25 MB a process: a worker or the app
    configured with ACCOUNTS_FILE, or with no CRM, does not import them."""
    accounts = tmp_path / "accounts.json"
    accounts.write_text('{"accounts": []}')
    script = (
        "import sys\n"
        "import app.main, workers.process\n"
        "from integrations.deps import build_account_directory\n"
        "from integrations.settings import load_settings\n"
        f"build_account_directory(load_settings(_env_file=None, accounts_file={str(accounts)!r}))\n"
        "print(sorted(m for m in ('simple_salesforce', 'zeep', 'jwt') if m in sys.modules))\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "[]"
