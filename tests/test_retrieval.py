"""Grounding: BM25 over this account's approved answers and the knowledge base, and the
offline drafter that uses them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness import World, start_world
from workers.ids import ActionId
from workers.retrieval import Scope, knowledge_base
from workers.stage_data import RequestContext


def _answer(world: World, question: str, answer: str, **who: str) -> None:
    world.customer_says(question, **who)
    world.drain()
    card = world.cards()[-1]
    world.click(ActionId.EDIT_DRAFT, card)
    world.submit_view(world.emu.views()[-1]["view"], {"draft_text": {"draft_text_input": answer}})
    world.drain()


def test_the_offline_drafter_reuses_this_accounts_answer_and_only_its_own(
    database_url: str, redis_url: str
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url, grouping_minutes=0) as world:
        _answer(
            world,
            "How do we rotate the webhook signing secret?",
            "Hi Carol, go to Settings > Webhooks > Rotate secret; the old one works 24 h.",
        )
        world.customer_says("how can we rotate our webhook signing secret safely?")
        world.initech_says("How do we rotate the webhook signing secret?")
        world.drain()
        same, other = world.cards()[-2], world.cards()[-1]
        assert "Rotate secret; the old one works 24 h" in json.dumps(same["blocks"])
        assert "reuses an answer approved for this account" in json.dumps(same["blocks"])
        assert "Rotate secret" not in json.dumps(other["blocks"])


def test_the_offline_drafter_quotes_the_knowledge_base(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "sso.md").write_text(
        "# Single sign-on\n\n## SAML certificate rotation\n"
        "Upload the new IdP certificate under Admin > SSO before the old one expires; both are "
        "accepted for 7 days.\n\n## SCIM\nSCIM provisioning needs the Enterprise plan.\n"
    )
    with start_world(
        database_url=database_url, redis_url=redis_url, knowledge_dir=str(tmp_path)
    ) as world:
        world.customer_says("Our SAML certificate expires Friday, how do we rotate it?")
        world.drain()
        text = json.dumps(world.cards()[-1]["blocks"], ensure_ascii=False)
        assert "Upload the new IdP certificate" in text
        assert "sso.md › SAML certificate rotation" in text


def test_knowledge_base_ranking_prefers_the_matching_passage(tmp_path: Path) -> None:
    (tmp_path / "billing.md").write_text(
        "# Invoices\nInvoices are emailed on the 1st; download past invoices under Billing.\n"
    )
    (tmp_path / "api.md").write_text(
        "# Rate limits\nThe API allows 100 requests per minute "
        "per key; 429 responses carry Retry-After.\n"
    )
    kb = knowledge_base(str(tmp_path))
    [best, *_] = kb.search("we keep hitting 429 from the API, what is the rate limit?", 2)
    assert best.source == "api.md › Rate limits"
    assert kb.search("completely unrelated gardening tips", 2) == []


def test_scope_is_the_linked_account_else_the_channel() -> None:
    linked = RequestContext.model_validate({"status": "ok", "account": {"id": "001A"}})
    assert Scope.for_request("C1", linked) == Scope("account:001A")
    unavailable = RequestContext.model_validate({"status": "unavailable"})
    assert Scope.for_request("C1", unavailable) == Scope("channel:C1")
    assert Scope.for_request("C1", None) == Scope("channel:C1")


def test_knowledge_base_markdown_is_quoted_as_slack_mrkdwn() -> None:
    from workers.draft import to_mrkdwn

    markdown = (
        "Open **Billing → Invoices**, then\n**Export → CSV**; see "
        "[the guide](https://help.acme.test/invoices).\n\n- one\n- two"
    )
    assert to_mrkdwn(markdown) == (
        "Open *Billing → Invoices*, then *Export → CSV*; see "
        "<https://help.acme.test/invoices|the guide>.\n\n- one\n- two"
    )
