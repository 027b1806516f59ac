"""The accounts file (`ACCOUNTS_FILE`): the same interface as Salesforce, from YAML or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations.accounts_file import AccountsFile
from integrations.salesforce import CrmUnavailable, NewCase
from tests.harness import REPO

BUNDLED = REPO / "sandbox" / "accounts.yaml"


def test_the_bundled_file_covers_the_demo_world() -> None:
    accounts = AccountsFile(BUNDLED)
    for channel, name, tier in [
        ("C0GLOBEX", "Globex Corporation", "enterprise"),
        ("C0INITECH", "Initech", "premium"),
        ("C0UMBRELLA", "Umbrella Corp", "standard"),
    ]:
        context = accounts.context(channel_id=channel, account_id=None, customer_email=None)
        assert context is not None and (context.name, context.tier) == (name, tier)
        assert context.owner is not None and context.owner.email in (
            "amy@acme.test",
            "ben@acme.test",
        )


def test_a_json_file_with_relative_dates_closed_cases_and_contacts(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(
        json.dumps(
            {
                "accounts": [
                    {
                        "id": "A1",
                        "name": "O'Brien & Co",
                        "channel": "C1",
                        "tier": "premium",
                        "owner": {"name": "Ben", "email": "ben@acme.test"},
                        "contacts": [{"id": "K1", "name": "Sean", "email": "Sean@OBrien.test"}],
                        "cases": [
                            {"id": "S1", "subject": "Open one", "priority": "High", "opened": -3},
                            {"id": "S2", "subject": "Done", "closed": True},
                        ],
                        "opportunities": [
                            {
                                "id": "O1",
                                "name": "Renewal",
                                "close": "2031-05-01",
                                "type": "Renewal",
                            },
                        ],
                    }
                ]
            }
        )
    )
    accounts = AccountsFile(path)
    assert [a.name for a in accounts.find_accounts("o'brien")] == ["O'Brien & Co"]
    context = accounts.context(channel_id="C1", account_id=None, customer_email="sean@obrien.test")
    assert context is not None
    assert [c.subject for c in context.open_cases] == ["Open one"]
    opened = context.open_cases[0].opened_at
    assert opened is not None
    assert abs(datetime.now(UTC) - timedelta(days=3) - opened) < timedelta(minutes=1)
    assert context.renewal_date is not None and context.renewal_date.isoformat() == "2031-05-01"
    assert context.contact is not None and context.contact.id == "K1"

    case_id = accounts.create_case(NewCase("A1", "Escalated", "link", "High"))
    accounts.update_case(case_id, {"Priority": "Low"})
    context = accounts.context(channel_id="C1", account_id=None, customer_email=None)
    assert context is not None
    assert [(c.subject, c.priority) for c in context.open_cases][-1] == ("Escalated", "Low")
    with pytest.raises(CrmUnavailable, match="no account"):
        accounts.create_case(NewCase("A9", "x", "y", "High"))


def test_a_broken_file_is_a_reason_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text("accounts:\n  - id: A1\n    nmae: Typo Inc\n")
    with pytest.raises(CrmUnavailable, match=r"accounts.yaml is invalid at accounts.0.name"):
        AccountsFile(path).check()
    with pytest.raises(CrmUnavailable, match="ACCOUNTS_FILE not found"):
        AccountsFile(tmp_path / "missing.yaml").check()
