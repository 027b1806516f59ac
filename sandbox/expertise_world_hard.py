"""A harder organisation for colleague suggestions (SPEC §5.5, issue 17): who answers now.

Nimbus (the emulator's org) supports nine customers in shared channels: five write in English,
two in Spanish (Mexico, Chile) and two in Chinese (Shanghai, Shenzhen), mostly in their own
language. Four account managers own the accounts; each account also has a named support
engineer who answers its how-to and vague questions. Eleven topics, most with several people
who answer them, in different volumes and since different dates:

- People changed teams. Priya ran billing until 45 days ago and now works on data; Hugo took
  billing over. Marco ran the API until 35 days ago and moved to integrations; Wei, who
  answered a few API questions before, owns it now. Nadia answered Android questions until
  40 days ago and moved to identity (SSO, SCIM provisioning); Ana took Android over. Each one
  answered a few questions of their old topic for about two weeks after moving, then none.
- Gus, who answered SSO and provisioning, left 50 days ago: his account is deactivated.
- Reliability has an on-call rotation: Ravi and Jo alternate weeks; the on-call answers most.
- Contract questions go to the account's manager; billing's people take some.
- Questions spanning two topics are answered first by the people of the topic at its root
  (in history, the other topic's person often adds to the thread).
- Vague questions ("something is off with our account") are answered by the account's
  support engineer or its manager.
- Spanish and Chinese how-to questions are answered by the account's support engineer in
  that language; faults by the topic's people, preferring one who speaks the language (Ana
  speaks Spanish, Wei Chinese); other specialists answer them in English.
- Distractors: a support manager (Eve) adds "following this" to some threads and answers
  nothing; customers' own colleagues chime in; account managers and support engineers hand
  threads over ("Looping in <@…>"); neighbouring topics share words.

The truth of a held-out question is who answers it in this story today. Everything is drawn
from a seeded generator and placed relative to `now`, so the same seed and `now` give the same
world. The org is in `sandbox/expertise_hard_org.py`, the text in `expertise_hard_text.py`
(English) and `expertise_hard_intl.py` (Spanish, Chinese).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sandbox import expertise_hard_intl as intl
from sandbox import expertise_hard_text as en
from sandbox.expertise_hard_org import (
    ACCOUNTS,
    ENGINEER,
    EVE,
    GUS,
    KINDS,
    ONCALL,
    OWNER,
    PEOPLE,
    PLATFORMS,
    QUESTION_LANGUAGE,
    ROSTERS,
    TOPIC_WEIGHTS,
    VAGUE_OPENERS,
    Account,
)
from sandbox.slack_emulator import SlackEmulator
from sandbox.world import BOT_USER, ORG, TOKEN

T = TypeVar("T")
TRIAGE_CHANNEL = "C0TRIAGE"


@dataclass(frozen=True)
class Thread:
    """A customer's question in a shared channel, and who of the org answered it."""

    channel: str
    account: str
    customer: str
    owner: str
    kind: str  # single, two (topics), vague
    topic: str  # the topic whose people answer (for a vague one: what it turned out to be)
    language: str
    question: str
    answerer: str  # the truth: who answered it first
    at: datetime
    answer: str = ""
    second: str | None = None  # someone else of the org who answered in the thread too
    second_answer: str = ""
    other_topic: str | None = None  # a two-topic question's other topic
    handoff: str | None = None  # who wrote "Looping in <@answerer>" first
    manager_note: str | None = None
    peer_note: str | None = None
    thumbs_up: bool = False
    thumbs_down: bool = False
    follow_up: str | None = None


@dataclass
class HardWorld:
    emu: SlackEmulator
    now: datetime
    past: list[Thread] = field(default_factory=list)
    held_out: list[Thread] = field(default_factory=list)


def on_call(day: float) -> str:
    """Who is on call for reliability on that day (weeks alternate)."""
    return "U0RAVI" if int((day + 10_000) // 7) % 2 == 0 else "U0JO"


def roster(topic: str, day: float, account: Account) -> list[tuple[str, float]]:
    """Who answers `topic` for `account` on `day`, and how often (weights)."""
    found: dict[str, float] = {}
    for stint in ROSTERS[topic]:
        if stint.start <= day < stint.end:
            who = {OWNER: account.owner, ENGINEER: account.engineer, ONCALL: on_call(day)}.get(
                stint.person, stint.person
            )
            found[who] = found.get(who, 0.0) + stint.weight
    return sorted(found.items())


def speaks(person: str, language: str) -> bool:
    """Whether `person` writes `language` (Gus, who left, wrote English)."""
    return language in PEOPLE.get(person, ("", "", ("en",)))[2]


def platform(question: str) -> str | None:
    """The mobile platform a question names, if any."""
    if any(word in question for word in ("Android", "安卓")):
        return "android"
    if any(word in question for word in ("iOS", "iPhone", "iPad", "Face ID", "TestFlight")):
        return "ios"
    return None


def who_answers(
    rng: random.Random,
    topic: str,
    day: float,
    account: Account,
    language: str,
    question: str,
    howto: bool = False,
) -> str:
    """Draw who answers a question of `topic` on `day`, as the org works: people who speak
    the customer's language, and the mobile engineer of the platform named, take more."""
    if language != "en" and rng.random() < (0.85 if howto else 0.15):
        return account.engineer
    people = roster(topic, day, account)
    named = platform(question) if topic == "mobile" else None
    weights = [
        w
        * (3 if language != "en" and speaks(p, language) else 1)
        * (5 if named and PLATFORMS.get(p) == named else 1)
        for p, w in people
    ]
    return rng.choices([p for p, _ in people], weights)[0]


def _pick(rng: random.Random, items: Sequence[T], unseen: int, seen_only: bool) -> T:
    """A template: in history only from the seen ones, held out from all."""
    return rng.choice(items[: len(items) - unseen] if seen_only else items)


def _fill(rng: random.Random, template: str) -> str:
    return template.format(**{slot: rng.choice(values) for slot, values in en.FILLS.items()})


def _answer_text(rng: random.Random, topic: str, person: str, language: str) -> str:
    if language == "es" and speaks(person, "es"):
        return intl.ANSWERS_ES[topic]
    if language == "zh" and speaks(person, "zh"):
        return intl.ANSWERS_ZH[topic]
    return rng.choice(en.ANSWERS_EN[topic])


def draw_thread(rng: random.Random, at: datetime, day: float, *, seen_only: bool) -> Thread:
    """One question of this org on `day` (relative to now) and who answered it."""
    account = rng.choice(ACCOUNTS)
    language = account.language if rng.random() < QUESTION_LANGUAGE[account.language] else "en"
    kind = rng.choices(list(KINDS), list(KINDS.values()))[0]
    topic = rng.choices(list(TOPIC_WEIGHTS), list(TOPIC_WEIGHTS.values()))[0]
    other, howto = None, False
    if kind == "vague":
        pool = {"en": en.VAGUE_EN, "es": intl.VAGUE_ES, "zh": intl.VAGUE_ZH}[language]
        unseen = en.UNSEEN_VAGUE if language == "en" else intl.UNSEEN_INTL
        question = _pick(rng, pool, unseen, seen_only)
        answerer = account.engineer if rng.random() < 0.6 else account.owner
    else:
        if kind == "two":
            pairs = {"en": en.TWO_TOPIC_EN, "es": intl.TWO_TOPIC_ES, "zh": intl.TWO_TOPIC_ZH}
            unseen = en.UNSEEN_TWO if language == "en" else intl.UNSEEN_INTL
            topic, other, template = _pick(rng, pairs[language], unseen, seen_only)
        elif language == "en":
            template = _pick(rng, en.QUESTIONS_EN[topic], en.UNSEEN_EN, seen_only)
        else:
            table = intl.QUESTIONS_ES if language == "es" else intl.QUESTIONS_ZH
            howto = rng.random() < 0.4
            template = _pick(rng, table[topic][0 if howto else 1], intl.UNSEEN_INTL, seen_only)
        question = _fill(rng, template)
        answerer = who_answers(rng, topic, day, account, language, question, howto)
    answer = _answer_text(rng, topic, answerer, language)
    if kind == "vague":  # the answer says what it turned out to be
        said_in = language if speaks(answerer, language) else "en"
        answer = VAGUE_OPENERS[said_in] + answer
    second = None
    if other is not None and rng.random() < 0.5:
        second = who_answers(rng, other, day, account, language, question)
        second = None if second == answerer else second
    handoff = None
    if answerer not in (account.owner, account.engineer) and rng.random() < 0.25:
        handoff = rng.choice([account.owner, account.engineer])
    peer_texts = {"en": en.CUSTOMER_PEER_EN, "es": intl.CUSTOMER_PEER_ES,
                  "zh": intl.CUSTOMER_PEER_ZH}  # fmt: skip
    follow_ups = {"en": en.FOLLOW_UPS_EN, "es": intl.FOLLOW_UPS_ES, "zh": intl.FOLLOW_UPS_ZH}
    return Thread(
        channel=account.channel,
        account=account.name,
        customer=rng.choice(account.customers),
        owner=account.owner,
        kind=kind,
        topic=topic,
        language=language,
        question=question,
        answerer=answerer,
        at=at,
        answer=answer,
        second=second,
        second_answer=_answer_text(rng, other, second, language) if second and other else "",
        other_topic=other,
        handoff=handoff,
        manager_note=rng.choice(en.MANAGER_EN) if rng.random() < 0.1 else None,  # Eve: English
        peer_note=rng.choice(peer_texts[language]) if rng.random() < 0.12 else None,
        thumbs_up=rng.random() < 0.45,
        thumbs_down=rng.random() < 0.05,
        follow_up=rng.choice(follow_ups[language]),
    )


def story(
    *, seed: int = 7, now: datetime, past: int = 450, held_out: int = 120, days: int = 85
) -> tuple[list[Thread], list[Thread]]:
    """The world's past threads (oldest first) and held-out questions; no Slack involved."""
    rng = random.Random(seed)
    step = (days - 0.5) / max(past, 1)
    history = []
    for i in range(past):
        day = -days + i * step + rng.random() * step * 0.9
        history.append(draw_thread(rng, now + timedelta(days=day), day, seen_only=True))
    fresh = [draw_thread(rng, now, 0.0, seen_only=False) for _ in range(held_out)]
    return history, fresh


def build_hard_world(
    *, seed: int = 7, past: int = 450, held_out: int = 120, now: datetime | None = None
) -> HardWorld:
    """The emulator with the org, its customers and the past threads in history."""
    now = now or datetime.now(UTC)
    emu = SlackEmulator(team_id=ORG, team_name="Nimbus", bot_user_id=BOT_USER, bot_token=TOKEN)
    staff = [BOT_USER, *PEOPLE, GUS]
    for user_id, (name, tz, _) in PEOPLE.items():
        emu.add_user(user_id, team_id=ORG, name=name.split()[0].lower(), real_name=name, tz=tz)
    emu.add_user(GUS, team_id=ORG, name="gus", real_name="Gus (identity, left)", deleted=True)
    for account in ACCOUNTS:
        emu.add_team(account.team, account.name)
        for user in account.customers:
            emu.add_user(user, team_id=account.team, name=user[3:].lower(),
                         real_name=user[3:].title())  # fmt: skip
        emu.add_channel(
            account.channel,
            f"ext-{account.name.lower().replace(' ', '-')}",
            is_ext_shared=True,
            connected_team_ids=[ORG, account.team],
            members=[*staff, *account.customers],
        )
    emu.add_channel(TRIAGE_CHANNEL, "support-triage", members=staff)
    world = HardWorld(emu, now)
    world.past, world.held_out = story(seed=seed, now=now, past=past, held_out=held_out)
    post_history(emu, world.past)
    return world


def post_history(emu: SlackEmulator, threads: list[Thread]) -> None:
    """Post the threads in the past, oldest first, as the people of the story wrote them."""
    for thread in sorted(threads, key=lambda t: t.at):
        ts = iter(f"{thread.at.timestamp() + i * 11:.6f}" for i in range(12))
        root = emu.post_as_user(thread.channel, thread.customer, thread.question, ts=next(ts))
        say = {"channel": thread.channel, "thread_ts": root["ts"]}
        if thread.peer_note:
            peer = next(a for a in ACCOUNTS if a.channel == thread.channel).customers
            other = peer[1] if thread.customer == peer[0] else peer[0]
            emu.post_as_user(user=other, text=thread.peer_note, ts=next(ts), **say)
        if thread.handoff:
            text = f"Looping in <@{thread.answerer}>, who knows this best."
            emu.post_as_user(user=thread.handoff, text=text, ts=next(ts), **say)
        answer = emu.post_as_user(user=thread.answerer, text=thread.answer, ts=next(ts), **say)
        if thread.thumbs_up:
            emu.add_reaction(thread.channel, answer["ts"], "+1", thread.customer)
        if thread.thumbs_down:
            emu.add_reaction(thread.channel, answer["ts"], "-1", thread.customer)
        if thread.second:
            emu.post_as_user(user=thread.second, text=thread.second_answer, ts=next(ts), **say)
        if thread.manager_note:
            emu.post_as_user(user=EVE, text=thread.manager_note, ts=next(ts), **say)
        if thread.follow_up:
            emu.post_as_user(user=thread.customer, text=thread.follow_up, ts=next(ts), **say)
