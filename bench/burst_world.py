"""The outage morning's world for bench/burst.py and tests/test_scale_out.py.

One organisation (Acme, the app's) with two account owners, C customer organisations each in a
Slack Connect channel of its own, and an account file listing them (every fifth enterprise, the
rest standard). The customers' messages are posted in the Slack emulator (so 👀 and the
permalink find them) by a different person each time in a channel: people of one company
writing about one outage are not one person writing three short messages, so each message is
a request of its own and needs a card of its own.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.slack_emulator import SlackEmulator

ORG = "T0ACME"
BOT_USER = "U0BOT"
TOKEN = "xoxb-burst-token"
SECRET = "burst-signing-secret"
TRIAGE = "C0TRIAGE"
OWNERS = (("U0AMY", "amy", "Amy (account manager)"), ("U0BEN", "ben", "Ben (support)"))
ENTERPRISE_EVERY = 5  # accounts 0, 5, 10...: enterprise; the others standard

# What customers write when the product is down: bugs and incidents, several urgencies, two
# languages; each needs a reply (the offline classifier and the local model agree).
OUTAGE_TEXTS = (
    "Our dashboard returns error 500 since 9:05, nobody on our team can log in. Is something down?",
    "API calls to /v2/orders time out after 30 s since this morning, our checkout is blocked",
    'Exports fail with "502 Bad Gateway" for all our users, can you check?',
    "We get 503 Service Unavailable on every request to the webhooks endpoint since 9am",
    "SSO login loops back to the sign-in page for everyone at our company, urgent please",
    "Is there an outage? The app is extremely slow and reports fail to load",
    "Our nightly sync job failed with ECONNRESET and the retry also failed, data is missing",
    "Hola, la plataforma devuelve error 500 desde esta mañana, ¿hay una incidencia?",
    'Mobile app shows "something went wrong" on launch for all our field staff',
    "Payments page crashes with a blank screen since the last deploy, customers cannot pay",
)


@dataclass(frozen=True)
class Account:
    """A customer organisation: its team, shared channel, tier and people."""

    number: int
    team: str
    channel: str
    tier: str
    owner: str  # the owner's Slack user id
    people: tuple[str, ...]


@dataclass(frozen=True)
class CustomerMessage:
    """One customer message of the burst: where it is and the event Slack sends for it."""

    serial: int
    channel: str
    ts: str
    user: str
    tier: str
    body: bytes  # the signed-to-be JSON envelope (one event_id: a redelivery sends it again)


@dataclass
class OutageWorld:
    """The emulator, the accounts and the internal channels the cards may go to."""

    emu: SlackEmulator
    accounts: list[Account]
    card_channels: list[str]
    limits: float | None
    limited: bool  # whether this emulator enforces the limits (the sandbox may predate them)
    messages: list[CustomerMessage] = field(default_factory=list)

    def write_accounts_file(self, path: Path) -> Path:
        """The accounts as ACCOUNTS_FILE reads them (JSON), for the app's context stage."""
        entries = []
        for account in self.accounts:
            owner = next(o for o in OWNERS if o[0] == account.owner)
            entries.append(
                {
                    "id": f"001BURST{account.number:010d}",
                    "name": f"Customer {account.number}",
                    "channel": account.channel,
                    "tier": account.tier,
                    "owner": {"name": owner[2], "email": f"{owner[1]}@acme.test"},
                    "contacts": [
                        {
                            "id": f"003BURST{account.number:06d}{k:04d}",
                            "name": f"Person {k} of customer {account.number}",
                            "email": _email(account.number, k),
                        }
                        for k in range(len(account.people))
                    ],
                    "renewal": 30 + account.number % 200,
                }
            )
        path.write_text(json.dumps({"accounts": entries}, indent=1))
        return path

    def post_messages(self, count: int) -> list[CustomerMessage]:
        """Post `count` customer messages round-robin over the channels (the n-th in a channel
        by its n-th person) and build each one's event envelope; kept in `messages`."""
        made = []
        for serial in range(count):
            account = self.accounts[serial % len(self.accounts)]
            user = account.people[(serial // len(self.accounts)) % len(account.people)]
            text = f"{OUTAGE_TEXTS[serial % len(OUTAGE_TEXTS)]} (ref {serial})"
            stored = self.emu.post_as_user(account.channel, user, text)
            body = json.dumps(self.emu.message_event(account.channel, stored["ts"])).encode()
            made.append(
                CustomerMessage(serial, account.channel, stored["ts"], user, account.tier, body)
            )
        self.messages.extend(made)
        return made


def build_world(
    *, messages: int, channels: int, limits: float | None, route_channels: list[str]
) -> OutageWorld:
    """The emulator (not started) with Acme, `channels` customers each with enough people to
    write `messages` messages one each, and the internal channels (TRIAGE and the routes')."""
    options: dict[str, Any] = {}
    limited = "limits" in inspect.signature(SlackEmulator).parameters
    if limits is not None and limited:
        options["limits"] = limits
    emu = SlackEmulator(
        team_id=ORG, team_name="Acme", bot_user_id=BOT_USER, bot_token=TOKEN, **options
    )
    staff = [BOT_USER]
    for user, name, real_name in OWNERS:
        emu.add_user(user, team_id=ORG, name=name, real_name=real_name, email=f"{name}@acme.test")
        staff.append(user)
    people_each = max(1, math.ceil(messages / channels))
    accounts = []
    for number in range(channels):
        team, channel = f"T0CU{number:05d}", f"C0EXT{number:05d}"
        emu.add_team(team, f"Customer {number}")
        people = tuple(f"U0C{number:05d}P{k:03d}" for k in range(people_each))
        for k, user in enumerate(people):
            emu.add_user(
                user,
                team_id=team,
                name=f"p{k}c{number}",
                real_name=f"Person {k} of customer {number}",
                email=_email(number, k),
            )
        emu.add_channel(
            channel,
            f"ext-customer-{number}",
            is_ext_shared=True,
            connected_team_ids=[ORG, team],
            members=[*staff, *people],
        )
        tier = "enterprise" if number % ENTERPRISE_EVERY == 0 else "standard"
        owner = OWNERS[number % len(OWNERS)][0]
        accounts.append(Account(number, team, channel, tier, owner, people))
    card_channels = list(dict.fromkeys([TRIAGE, *route_channels]))
    for channel in card_channels:
        emu.add_channel(channel, f"support-{channel.lower()}", members=staff)
    return OutageWorld(emu, accounts, card_channels, limits, limited and limits is not None)


def route_channels(routes: str | None) -> list[str]:
    """The channels a TRIAGE_ROUTES value names (`tier:enterprise=C1,default=C2` -> C1, C2)."""
    if not routes:
        return []
    pairs = (item.partition("=") for item in routes.split(",") if item.strip())
    return list(dict.fromkeys(channel.strip() for _, _, channel in pairs if channel.strip()))


def _email(account: int, person: int) -> str:
    return f"p{person}@customer{account}.test"
