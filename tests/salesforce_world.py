"""A local Salesforce org for the tests: the server, its org, and settings for each auth mode.

The org mirrors the Slack world of `sandbox.world`: Globex is linked to its shared channel by
the channel field; O'Brien & Co has a quote in its name and no channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.salesforce_org import salesforce_datetime
from sandbox.salesforce_server import SalesforceServer
from sandbox.world import SHARED
from tests.harness import World, start_world

#: `crm_world(auth="access token", **settings)`: a world whose CRM is the org (a fixture).
StartWorld = Callable[..., AbstractContextManager[World]]
USERNAME, PASSWORD, SECURITY_TOKEN = "triage@acme.test", "correct horse", "TOKEN123"
CONSUMER_KEY = "3MVG9local.consumer"


@dataclass
class Org:
    server: SalesforceServer
    amy: str
    globex: str
    obrien: str
    urgent_case: str
    carol: str
    renewal: date


def seed(server: SalesforceServer) -> Org:
    """Accounts, owners, contacts, cases and opportunities the tests look for."""
    now = datetime.now(UTC)
    amy = server.add_user("Amy Adams", "amy@acme.test")
    globex = server.add_account(
        "Globex Corporation", channel=SHARED, tier="enterprise", owner_id=amy
    )
    obrien = server.add_account("O'Brien & Co", tier="standard", owner_id=amy)
    server.add_account("O'Brien & Co Holdings", tier="premium", owner_id=amy)
    server.add(
        "Case",
        AccountId=globex,
        Subject="Webhook retries pile up",
        Priority="Medium",
        Status="New",
        CreatedDate=salesforce_datetime(now - timedelta(days=9)),
    )
    urgent = server.add(
        "Case",
        AccountId=globex,
        Subject="SSO outage for the EU tenant",
        Priority="High",
        Status="Working",
        CreatedDate=salesforce_datetime(now - timedelta(days=3, hours=2)),
    )
    server.add(
        "Case", AccountId=globex, Subject="Closed long ago", Priority="High", Status="Closed"
    )
    renewal = now.date() + timedelta(days=40)
    server.add(
        "Opportunity",
        AccountId=globex,
        Name="Globex renewal",
        StageName="Negotiation",
        CloseDate=renewal.isoformat(),
        Type="Renewal",
        Amount=120000.0,
    )
    server.add(
        "Opportunity",
        AccountId=globex,
        Name="Globex upsell",
        StageName="Prospecting",
        CloseDate=(now.date() + timedelta(days=10)).isoformat(),
        Type="New Business",
    )
    carol = server.add("Contact", AccountId=globex, Name="Carol Jones", Email="carol@globex.test")
    server.add("Contact", AccountId=obrien, Name="Sean O'Brien", Email="sean.o'brien@obrien.test")
    return Org(server, amy, globex, obrien, urgent, carol, renewal)


def rsa_key_pair(tmp_path: Path) -> tuple[Path, bytes]:
    """A private key file for SALESFORCE_PRIVATE_KEY_FILE and the public key for the server."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "connected-app.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def auth_settings(org: Org, mode: str, key_file: Path | None = None) -> dict[str, Any]:
    """Settings overrides that sign in to the local server in one of the three modes."""
    server = org.server
    if mode == "access token":
        return {
            "salesforce_instance_url": server.url,
            "salesforce_access_token": server.issue_session(),
        }
    if mode == "password":
        return {
            "salesforce_username": USERNAME,
            "salesforce_password": PASSWORD,
            "salesforce_security_token": SECURITY_TOKEN,
            "salesforce_domain": server.url,
        }
    assert mode == "jwt" and key_file is not None
    return {
        "salesforce_username": USERNAME,
        "salesforce_consumer_key": CONSUMER_KEY,
        "salesforce_private_key_file": str(key_file),
        "salesforce_domain": server.url,
    }


@pytest.fixture
def jwt_keys(tmp_path: Path) -> tuple[Path, bytes]:
    return rsa_key_pair(tmp_path)


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch, jwt_keys: tuple[Path, bytes]) -> Iterator[Org]:
    """The server with its org; requests trust its test CA (REQUESTS_CA_BUNDLE)."""
    server = SalesforceServer(
        username=USERNAME,
        password=PASSWORD,
        security_token=SECURITY_TOKEN,
        consumer_key=CONSUMER_KEY,
        jwt_public_key=jwt_keys[1],
    )
    with server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
        yield seed(server)


@pytest.fixture
def crm_world(org: Org, database_url: str, redis_url: str) -> StartWorld:
    """Starts a world (`tests.harness.start_world`) signed in to the org in the `auth` mode;
    other keyword arguments are settings."""

    def start(auth: str = "access token", **settings: Any) -> AbstractContextManager[World]:
        return start_world(
            database_url=database_url, redis_url=redis_url, **auth_settings(org, auth), **settings
        )

    return start
