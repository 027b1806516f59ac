"""Ranking colleagues (SPEC §5.5): expertise first; availability and load break ties; people
who must never be suggested are not."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from integrations.deps import Deps
from integrations.settings import load_settings
from integrations.store.db import transaction
from integrations.store.models import Draft, DraftStatus, Evidence, Request, RequestMessage
from tests.harness import CUSTOMER, CUSTOMER_TEAM, ORG, SHARED, World
from workers.expertise import expertise_for, feedback_weight, stemmed
from workers.stage_data import Suggestion
from workers.suggest import suggest_colleagues

# A Wednesday, 14:00 UTC: 14:00 in London (working hours), 23:00 in Tokyo (not).
NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
INVOICE = "Our invoice shows more seats than active users"
SAML = "Our SAML login through Okta fails with an invalid signature after the certificate rotation"


def open_request(
    deps: Deps, *, text: str, customer: str = CUSTOMER, owner: str | None = None
) -> int:
    """A request as ingest and the context stage leave it."""
    ts = f"{time.time():.6f}"
    account = {"id": "001X", "name": "Globex", "owner": {"slack_user_id": owner}}
    with transaction(deps.sessions) as session:
        request = Request(
            team_id=ORG,
            channel_id=SHARED,
            ts=ts,
            thread_ts=ts,
            user_id=customer,
            context={"status": "ok", "account": account} if owner else None,
        )
        session.add(request)
        session.flush()
        session.add(
            RequestMessage(
                request_id=request.id, channel_id=SHARED, ts=ts, user_id=customer, text=text
            )
        )
        return request.id


def learn(
    deps: Deps,
    user: str,
    question: str,
    *,
    times: int = 1,
    up: int = 0,
    channel: str | None = None,
    answer: str = "Re-upload the IdP certificate under SSO settings.",
) -> None:
    """Evidence as backfill records it: `user` answered `question` (in `channel`)."""
    with transaction(deps.sessions) as session:
        for i in range(times):
            session.add(
                Evidence(
                    source_key=f"thread:{channel or SHARED}:{user}-{i}-{hash(question)}",
                    user_id=user,
                    kind="history",
                    channel_id=channel,
                    question=question,
                    answer=answer,
                    up=up,
                    answered_at=NOW - timedelta(days=3),
                )
            )


def approved_by(
    deps: Deps, user: str, *, feedback: dict[str, int] | None = None, at: datetime = NOW
) -> tuple[int, int]:
    """A request answered by `user`'s approved draft (with this 👍/👎): (request, draft)."""
    request_id = open_request(deps, text=SAML)
    with transaction(deps.sessions) as session:
        draft = Draft(
            request_id=request_id, text="x", source="offline", status=DraftStatus.APPROVED
        )
        if feedback:
            draft.details = {"feedback": feedback}
        session.add(draft)
        session.flush()
        session.add(
            Evidence(
                source_key=f"request:{request_id}",
                user_id=user,
                kind="approval",
                request_id=request_id,
                draft_id=draft.id,
                question=SAML,
                answered_at=at,
            )
        )
        return request_id, draft.id


def colleague(world: World, user: str, *, tz: str = "Europe/London", **kwargs: object) -> str:
    world.emu.add_user(user, team_id=ORG, name=user.lower(), tz=tz, **kwargs)  # type: ignore[arg-type]
    world.emu.set_presence(user, "away")
    return user


def ranked(world: World, request_id: int) -> list[str]:
    result = suggest_colleagues(world.deps, request_id=request_id, now=NOW)
    assert result.status == "ok", result
    return [p.user_id for p in result.people]


def test_expertise_ranks_who_answered_similar_questions(world: World) -> None:
    sam, priya = colleague(world, "U0SAM"), colleague(world, "U0PRIYA")
    learn(
        world.deps,
        sam,
        "SAML login with Okta fails: invalid signature on the assertion",
        times=4,
        up=1,
    )
    learn(world.deps, priya, INVOICE, times=4, answer="Remove inactive seats under Billing.")
    world.emu.set_presence(sam, "active")
    request_id = open_request(world.deps, text=SAML)
    result = suggest_colleagues(world.deps, request_id=request_id, now=NOW)
    assert [p.user_id for p in result.people] == [sam]
    assert result.people[0].reason == (
        "answered 4 similar questions about SAML and login (4 👍) · online · 14:00 local"
    )


def tie(world: World, *people: str) -> int:
    """`people` answered SAML questions alike; the SAML request they tie on."""
    for user in people:
        learn(world.deps, user, SAML, times=2)
    return open_request(world.deps, text=SAML)


def test_availability_breaks_a_tie(world: World) -> None:
    first, second = colleague(world, "U0AAA"), colleague(world, "U0BBB")
    request_id = tie(world, first, second)
    assert ranked(world, request_id) == [first, second]  # a tie: by user id
    world.emu.set_presence(second, "active")
    world.deps.redis.delete(f"triage:suggest-presence:{second}")  # a minute later
    assert ranked(world, request_id) == [second, first]  # online


def test_working_hours_break_a_tie(world: World) -> None:
    tokyo, london = colleague(world, "U0A00", tz="Asia/Tokyo"), colleague(world, "U0LON")
    request_id = tie(world, tokyo, london)
    assert ranked(world, request_id) == [london, tokyo]  # 14:00 in London, 23:00 in Tokyo
    reasons = [
        p.reason for p in suggest_colleagues(world.deps, request_id=request_id, now=NOW).people
    ]
    assert reasons[1].endswith("23:00 local (outside working hours)")


def test_load_breaks_a_tie(world: World) -> None:
    first, second = colleague(world, "U0AAA"), colleague(world, "U0BBB")
    request_id = tie(world, first, second)
    assert ranked(world, request_id) == [first, second]  # a tie: by user id
    with transaction(world.deps.sessions) as session:  # two open requests already on `first`
        for _ in range(2):
            busy = session.get_one(Request, open_request(world.deps, text="other"))
            busy.suggestions = {"status": "ok", "people": [{"user_id": first, "reason": ""}]}
    assert ranked(world, request_id) == [second, first]
    reason = suggest_colleagues(world.deps, request_id=request_id, now=NOW).people[1].reason
    assert reason.endswith("2 open requests on them")


def test_people_who_must_never_be_suggested_are_not(world: World) -> None:
    expert = colleague(world, "U0EXPERT")
    gone = colleague(world, "U0GONE", deleted=True)
    bot = colleague(world, "U0HELPERBOT", is_bot=True)
    opted_out = colleague(world, "U0QUIET")
    outsider = "U0OUTSIDER2"
    world.emu.add_user(outsider, team_id=CUSTOMER_TEAM, name="outsider")
    for user, times in [(gone, 6), (bot, 5), (opted_out, 5), (outsider, 5), (CUSTOMER, 5)]:
        learn(world.deps, user, SAML, times=times)
    learn(world.deps, expert, SAML, times=1)
    deps = Deps.build(world.settings.model_copy(update={"suggest_opt_out": [opted_out]}))
    try:
        request_id = open_request(deps, text=SAML)
        people = suggest_colleagues(deps, request_id=request_id, now=NOW).people
    finally:
        deps.close()
    assert [p.user_id for p in people] == [expert]


def test_the_account_owner_is_suggested_without_expertise(world: World) -> None:
    owner = colleague(world, "U0OWNER")
    request_id = open_request(world.deps, text="Something nobody asked before", owner=owner)
    people = suggest_colleagues(world.deps, request_id=request_id, now=NOW).people
    assert people == [Suggestion(user_id=owner, reason="account owner · away · 14:00 local")]


def test_feedback_and_age_weigh_answers(world: World) -> None:
    assert (
        feedback_weight(4, 0, False) > feedback_weight(0, 0, False) > feedback_weight(0, 1, False)
    )
    assert feedback_weight(0, 0, True) < feedback_weight(0, 0, False)
    good, bad = colleague(world, "U0GOOD"), colleague(world, "U0BAD")
    learn(world.deps, good, SAML, up=2)
    approved_by(world.deps, bad, feedback={"up": 0, "down": 2})  # 👎👎 on bad's answer
    with transaction(world.deps.sessions) as session:
        found = expertise_for(
            session, SAML, index=world.deps.expertise, half_life_days=180, now=NOW
        )
    scores = {u: e.score for u, e in found.items()}
    assert scores[good] == 1.0 and scores[bad] < 0.5


def test_words_are_stemmed_and_generic_words_dropped() -> None:
    assert stemmed("Exports failed since yesterday").split() == ["export", "fail"]


def test_settings_document_the_weights() -> None:
    settings = load_settings(_env_file=None, suggest_opt_out="U1, U2")
    assert settings.suggest_opt_out == ["U1", "U2"]
    assert settings.suggest_weight_expertise > settings.suggest_weight_owner


def test_a_few_close_answers_outweigh_many_loose_ones(world: World) -> None:
    """BM25+ gives every answer a share of the question's words, held or not: summed over
    a person's answers, five that share two loose words would beat two that answer the
    question. Expertise is taken without that share."""
    sam, rosa = colleague(world, "U0SAM"), colleague(world, "U0ROSA")
    learn(world.deps, sam, SAML, times=2)
    for topic in ("dashboard", "invoice", "mobile app", "webhook", "export"):
        learn(world.deps, rosa, f"The {topic} fails after the rotation")
    with transaction(world.deps.sessions) as session:
        found = expertise_for(
            session, SAML, index=world.deps.expertise, half_life_days=180, now=NOW
        )
    assert found[sam].score == 1.0 and found[rosa].score < 0.5


def test_one_telling_word_in_common_is_evidence(world: World) -> None:
    kenji = colleague(world, "U0KENJI")
    learn(world.deps, kenji, "The Android app crashes when we open a PDF", times=2)
    request_id = open_request(world.deps, text="Photos attached on Android 14 show up blank")
    assert ranked(world, request_id) == [kenji]  # "Android": retrieval would need two words
