"""A synthetic organisation for colleague suggestions (SPEC §5.5, §6.4): who answers what.

Acme has two account managers (owners of the accounts), eight specialists and an SRE who
helps out, one former SSO expert whose account is deactivated, and five customers in shared
channels. Past threads (served by the emulator's history for `triage backfill`) are
customer questions answered in the thread, mostly by the speciality's expert, sometimes by a
backup, sometimes after the account owner loops the expert in; customers react 👍 (now and
then 👎) and sometimes come back. Held-out questions are new ones with who really answered.

Everything is drawn from a seeded random generator, so the world is the same on every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sandbox.expertise_topics import AMY, BEN, GUS, JO, SPECIALITIES
from sandbox.slack_emulator import SlackEmulator
from sandbox.world import BOT_USER, ORG, TOKEN

CUSTOMERS = [  # team, name, shared channel, its people, the account owner
    ("T0GLOBEX", "Globex", "C0GLOBEX", ["U0CAROL", "U0DAVE"], AMY),
    ("T0INITECH", "Initech", "C0INITECH", ["U0PETER", "U0MILTON"], AMY),
    ("T0UMBRELLA", "Umbrella", "C0UMBRELLA", ["U0ALICE", "U0WESKER"], BEN),
    ("T0HOOLI", "Hooli", "C0HOOLI", ["U0GAVIN", "U0DENPOK"], BEN),
    ("T0STARK", "Stark", "C0STARK", ["U0PEPPER", "U0HAPPY"], AMY),
]
TRIAGE_CHANNEL = "C0TRIAGE"


PEOPLE = {  # user id: (name, time zone)
    AMY: ("Amy (account manager)", "America/New_York"),
    BEN: ("Ben (account manager)", "America/Los_Angeles"),
    JO: ("Jo (SRE)", "Australia/Sydney"),
    **{s.expert: (s.name, s.tz) for s in SPECIALITIES.values()},
}


@dataclass(frozen=True)
class Thread:
    """A customer's question in a shared channel and who answered it."""

    channel: str
    customer: str
    owner: str
    speciality: str
    question: str
    answerer: str
    at: datetime
    looped_in: bool = False  # the owner answered first with "looping in <@expert>"
    thumbs_up: bool = False
    thumbs_down: bool = False
    follow_up: str | None = None
    answer: int = 0  # which of the speciality's answers the answerer wrote


@dataclass
class ExpertiseWorld:
    emu: SlackEmulator
    past: list[Thread] = field(default_factory=list)
    held_out: list[Thread] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # channel → account owner


def build_expertise_world(
    *, past: int = 200, held_out: int = 40, seed: int = 7, days: int = 80
) -> ExpertiseWorld:
    """The emulator with the org, its customers and `past` answered threads in history."""
    emu = SlackEmulator(team_id=ORG, team_name="Acme", bot_user_id=BOT_USER, bot_token=TOKEN)
    staff = [BOT_USER, *PEOPLE, GUS]
    for user_id, (name, tz) in PEOPLE.items():
        emu.add_user(user_id, team_id=ORG, name=name.split()[0].lower(), real_name=name, tz=tz)
    emu.add_user(GUS, team_id=ORG, name="gus", real_name="Gus (former SSO)", deleted=True)
    world = ExpertiseWorld(emu)
    for team, name, channel, customers, owner in CUSTOMERS:
        emu.add_team(team, name)
        for user in customers:
            emu.add_user(user, team_id=team, name=user[3:].lower(), real_name=user[3:].title())
        emu.add_channel(
            channel,
            f"ext-{name.lower()}",
            is_ext_shared=True,
            connected_team_ids=[ORG, team],
            members=[*staff, *customers],
        )
        world.owners[channel] = owner
    emu.add_channel(TRIAGE_CHANNEL, "support-triage", members=staff)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    step = (now - timedelta(hours=2) - start) / max(past, 1)
    world.past = [draw_thread(rng, start + step * i, template_half="seen") for i in range(past)]
    world.held_out = [
        draw_thread(rng, now, template_half="any", live=True) for _ in range(held_out)
    ]
    post_history(emu, world.past)
    return world


def draw_thread(
    rng: random.Random, at: datetime, *, template_half: str, live: bool = False
) -> Thread:
    """One question of a random speciality, customer and channel, and who answers it."""
    key = rng.choice(sorted(SPECIALITIES))
    speciality = SPECIALITIES[key]
    _, _, channel, customers, owner = rng.choice(CUSTOMERS)
    templates = speciality.questions
    if template_half == "seen":  # two templates per speciality are never seen in history
        templates = templates[:-2]
    question = rng.choice(templates).format(
        **{slot: rng.choice(values) for slot, values in speciality.fills.items()}
    )
    answerer = speciality.expert
    if rng.random() < 0.12:
        answerer = speciality.backup
    if live and answerer == GUS:  # a deactivated person answers nothing any more
        answerer = speciality.expert
    if answerer == GUS and at > datetime.now(UTC) - timedelta(days=40):
        answerer = speciality.expert  # Gus left forty days ago
    return Thread(
        channel=channel,
        customer=rng.choice(customers),
        owner=owner,
        speciality=key,
        question=question,
        answerer=answerer,
        at=at,
        looped_in=rng.random() < 0.3 and answerer != owner,
        thumbs_up=rng.random() < 0.5,
        thumbs_down=rng.random() < 0.05,
        follow_up=rng.choice([None, None, "Thanks, that worked!", "Still failing for us."]),
        answer=rng.randrange(len(speciality.answers)),
    )


def post_history(emu: SlackEmulator, threads: list[Thread], *, extra_replies: int = 0) -> int:
    """Post the threads in the past (oldest first); returns how many messages were posted."""
    posted = 0
    for thread in sorted(threads, key=lambda t: t.at):
        base = thread.at.timestamp()
        ts = iter(f"{base + i * 7:.6f}" for i in range(10 + extra_replies))
        parent = emu.post_as_user(thread.channel, thread.customer, thread.question, ts=next(ts))
        root = parent["ts"]
        if thread.looped_in:
            text = f"Thanks for flagging! Looping in <@{thread.answerer}>, who knows this best."
            emu.post_as_user(thread.channel, thread.owner, text, thread_ts=root, ts=next(ts))
            posted += 1
        answer = emu.post_as_user(
            thread.channel,
            thread.answerer,
            _answer(thread),
            thread_ts=root,
            ts=next(ts),
        )
        if thread.thumbs_up:
            emu.add_reaction(thread.channel, answer["ts"], "+1", thread.customer)
        if thread.thumbs_down:
            emu.add_reaction(thread.channel, answer["ts"], "-1", thread.customer)
        for i in range(extra_replies):
            who = thread.customer if i % 2 == 0 else thread.answerer
            text = "One more detail on this." if i % 2 == 0 else "Noted, checking that too."
            emu.post_as_user(thread.channel, who, text, thread_ts=root, ts=next(ts))
        if thread.follow_up:
            emu.post_as_user(
                thread.channel, thread.customer, thread.follow_up, thread_ts=root, ts=next(ts)
            )
        posted += 2 + extra_replies + bool(thread.follow_up)
    return posted


def _answer(thread: Thread) -> str:
    speciality = SPECIALITIES[thread.speciality]
    template = speciality.answers[thread.answer]
    return template.replace("{0}", "latest")
