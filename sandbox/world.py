"""A small Slack world shared by the tests and `triage demo`: one org, customers, channels."""

from __future__ import annotations

from typing import Any

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_methods_chat import permalink_for

ORG = "T0ACME"
BOT_USER = "U0BOT"
TOKEN = "xoxb-test-token"
APPROVER = "U0AMY"
APPROVER_2 = "U0BEN"
CUSTOMER_TEAM = "T0GLOBEX"
CUSTOMER = "U0CUSTOMER"
OUTSIDER = "U0OUTSIDER"  # a second person of the customer's org
SHARED = "C0GLOBEX"  # the Slack Connect channel with Globex
TRIAGE = "C0TRIAGE"
INTERNAL = "C0INTERNAL"
LEAD = "U0SAM"  # a support lead: SUPPORT_LEADS in the demo, who runs /escalate
ESCALATIONS = "C0ESCALATE"  # ESCALATION_CHANNEL: escalations and SLA breaches
# Two more customers, for the demo's morning in three channels.
INITECH_TEAM, INITECH_USER, INITECH = "T0INITECH", "U0PETER", "C0INITECH"
UMBRELLA_TEAM, UMBRELLA_USER, UMBRELLA = "T0UMBRELLA", "U0ALICE", "C0UMBRELLA"


def build_emulator(**options: Any) -> SlackEmulator:
    """The emulator with Acme (the org running the app), its customers and channels.

    `options` go to SlackEmulator (port, event_url, signing_secret...)."""
    emu = SlackEmulator(
        team_id=ORG, team_name="Acme", bot_user_id=BOT_USER, bot_token=TOKEN, **options
    )
    emu.add_user(
        APPROVER, team_id=ORG, name="amy", real_name="Amy (account manager)", email="amy@acme.test"
    )
    emu.add_user(
        APPROVER_2, team_id=ORG, name="ben", real_name="Ben (support)", email="ben@acme.test"
    )
    staff = [BOT_USER, APPROVER, APPROVER_2]
    for team, name, user, real, channel in [
        (CUSTOMER_TEAM, "Globex", CUSTOMER, "Carol (Globex)", SHARED),
        (INITECH_TEAM, "Initech", INITECH_USER, "Peter (Initech)", INITECH),
        (UMBRELLA_TEAM, "Umbrella", UMBRELLA_USER, "Alice (Umbrella)", UMBRELLA),
    ]:
        emu.add_team(team, name)
        emu.add_user(
            user,
            team_id=team,
            name=real.split()[0].lower(),
            real_name=real,
            email=f"{real.split()[0].lower()}@{name.lower()}.test",
        )
        emu.add_channel(
            channel,
            f"ext-{name.lower()}",
            is_ext_shared=True,
            connected_team_ids=[ORG, team],
            members=[*staff, user],
        )
    emu.add_user(
        OUTSIDER,
        team_id=CUSTOMER_TEAM,
        name="dave",
        real_name="Dave (Globex)",
        email="dave@globex.test",
    )
    emu.add_member(SHARED, OUTSIDER)
    emu.add_user(
        LEAD, team_id=ORG, name="sam", real_name="Sam (support lead)", email="sam@acme.test"
    )
    # The lead reads the internal channels; customers' channels are the account team's.
    emu.add_channel(TRIAGE, "support-triage", members=[*staff, LEAD])
    emu.add_channel(INTERNAL, "engineering", members=[*staff, LEAD])
    emu.add_channel(ESCALATIONS, "escalations", members=[*staff, LEAD])
    return emu


def permalink(emu: SlackEmulator, channel: str, ts: str) -> str:
    """A message's link, as Slack's "Copy link" gives it (what a lead pastes after /escalate)."""
    world = emu._world
    with world.lock:
        return permalink_for(world, channel, world.message(channel, ts))
