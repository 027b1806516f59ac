"""The harder colleague world (sandbox/expertise_world_hard.py) is the same on every run, and
its truth is consistent with its own story: fast, no Slack and no database."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sandbox.expertise_hard_org import ACCOUNTS, EVE, GUS, PEOPLE, ROSTERS
from sandbox.expertise_world_hard import story

NOW = datetime(2026, 12, 7, 14, tzinfo=UTC)
PAST, HELD_OUT = story(seed=7, now=NOW)


def test_the_same_seed_gives_the_same_world() -> None:
    assert story(seed=7, now=NOW) == (PAST, HELD_OUT)
    assert story(seed=8, now=NOW) != (PAST, HELD_OUT)
    # `now` only places the world in time: its questions and answerers do not move.
    later, fresh = story(seed=7, now=datetime(2027, 3, 1, 9, tzinfo=UTC))
    assert [(t.question, t.answerer) for t in later + fresh] == [
        (t.question, t.answerer) for t in PAST + HELD_OUT
    ]


def test_every_truth_is_a_colleague_who_can_answer_today() -> None:
    owners = {a.channel: a.owner for a in ACCOUNTS}
    for thread in HELD_OUT:
        assert thread.answerer in PEOPLE, thread
        assert thread.answerer not in (GUS, EVE), thread  # left; only follows threads
        assert thread.at == NOW
        assert thread.owner == owners[thread.channel]


def test_people_who_moved_answer_their_old_topic_no_more() -> None:
    gone = {("billing", "U0PRIYA"), ("api", "U0MARCO"), ("mobile", "U0NADIA")}
    assert all(
        (t.topic, t.answerer) not in gone for t in HELD_OUT if t.kind != "vague"
    )  # vague questions are the account's engineer's or manager's
    assert any((t.topic, t.answerer) in gone for t in PAST)  # but they did, in history
    assert any(t.answerer == GUS for t in PAST)
    assert all(t.at < NOW for t in PAST)
    assert {t.answerer for t in HELD_OUT if t.topic == "billing"} & {"U0HUGO"}


def test_the_world_has_what_the_brief_asks_for() -> None:
    kinds = Counter(t.kind for t in HELD_OUT)
    languages = Counter(t.language for t in HELD_OUT)
    assert kinds["two"] >= 10 and kinds["vague"] >= 10, kinds
    assert languages["es"] >= 10 and languages["zh"] >= 10, languages
    assert {t.language for t in PAST} == {"en", "es", "zh"}
    assert all(len({s.person for s in ROSTERS[topic]}) >= 2 for topic in ROSTERS)
    # Some held-out questions use wording never seen in history.
    assert {t.question for t in HELD_OUT} - {t.question for t in PAST}
