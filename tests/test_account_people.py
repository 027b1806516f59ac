"""Who serves an account (SPEC §5.5, `workers.account_people`): the channel's regulars join
its team, and the expertise of someone who answers only other accounts counts for less."""

from __future__ import annotations

from tests.harness import SHARED, World
from tests.test_expertise import INVOICE, NOW, SAML, colleague, learn, open_request, ranked
from workers.suggest import suggest_colleagues

OTHER = "C0OTHERCUSTOMER"  # another customer's shared channel
SEATS = "Remove inactive seats under Billing."
WORKSPACE = "How do we rename our workspace and change its URL?"


def test_the_accounts_own_engineer_is_suggested_for_a_vague_question(world: World) -> None:
    dev, sam, priya = (colleague(world, u) for u in ("U0DEV", "U0SAM", "U0PRIYA"))
    learn(world.deps, dev, WORKSPACE, times=6, channel=SHARED)  # 6 of this channel's 12
    learn(world.deps, sam, SAML, times=3, channel=SHARED)
    learn(world.deps, priya, INVOICE, times=3, channel=SHARED, answer=SEATS)
    learn(world.deps, sam, SAML, times=10, channel=OTHER)  # specialists answer everyone
    learn(world.deps, priya, INVOICE, times=10, channel=OTHER, answer=SEATS)
    request_id = open_request(world.deps, text="Can someone call us today? Something feels off")
    result = suggest_colleagues(world.deps, request_id=request_id, now=NOW)
    assert [p.user_id for p in result.people] == [dev]  # Sam and Priya are not regulars here
    reason = "answered 6 of this channel's 12 questions · away · 14:00 local"
    assert result.people[0].reason == reason


def test_someone_who_answers_only_other_accounts_counts_for_less(world: World) -> None:
    rosa, sam, priya = (colleague(world, u) for u in ("U0ROSA", "U0SAM", "U0PRIYA"))
    learn(world.deps, rosa, SAML, times=4, channel=OTHER)  # another account's engineer
    learn(world.deps, sam, SAML, times=3, channel=SHARED)
    learn(world.deps, priya, INVOICE, times=9, channel=SHARED, answer=SEATS)  # 12 answered here
    request_id = open_request(world.deps, text=SAML)
    # Rosa's four answers outweigh Sam's three, but with 12 of this channel's questions
    # answered and none of them by her, she most likely serves other accounts: half counts.
    assert ranked(world, request_id)[:2] == [sam, rosa]


def test_a_new_channel_weighs_everyone_alike(world: World) -> None:
    rosa, sam = colleague(world, "U0ROSA"), colleague(world, "U0SAM")
    learn(world.deps, rosa, SAML, times=4, channel=OTHER)
    learn(world.deps, sam, SAML, times=3, channel=OTHER)
    request_id = open_request(world.deps, text=SAML)  # nothing answered in SHARED yet
    assert ranked(world, request_id) == [rosa, sam]
