"""The demo's auto-send (SPEC §6.7): in #ext-initech, the one channel the demo's AUTO_SEND
names, Milton asks what Amy already answered for Peter; the app answers him at once with Amy's
approved words, saying it is automatic, and the card shows it with Undo.

Without OPENAI_API_KEY the offline drafter reuses Amy's answer word for word, and its
confidence is how well Milton's question matches Peter's (`workers.draft.draft_offline`): the
same words, so it goes. Peter's own first question, with no answer before it, had waited for
Amy, as every draft elsewhere does.
"""

from __future__ import annotations

from typing import Any

from app.demo_world import Demo
from sandbox import world as w
from workers.ids import ActionId

MILTON = "U0MILTON"
QUESTION = "How can I export invoices as CSV?"


def play_auto_send(demo: Demo, peters_question: dict[str, Any]) -> None:
    """Milton's question, answered by itself with Amy's approved answer; the card's Undo."""
    demo.emu.add_user(
        MILTON,
        team_id=w.INITECH_TEAM,
        name="milton",
        real_name="Milton (Initech)",
        email="milton@initech.test",
    )
    demo.emu.add_member(w.INITECH, MILTON)
    settings = demo.deps.settings
    demo.step(
        f"Milton (Initech) in #ext-initech: [italic]{QUESTION}[/]  "
        f"[dim](AUTO_SEND=channel:{w.INITECH}, categories "
        f"{','.join(settings.auto_send_categories)}: Initech's routine questions may be "
        "answered without waiting for a person, when every guard holds)[/]"
    )
    asked = demo.say(w.INITECH, MILTON, w.INITECH_TEAM, QUESTION)
    replies = demo.replies(w.INITECH, asked["ts"])
    automatic = [r for r in replies if "sent automatically" in r["text"]]
    demo.check(len(replies) == 1 and len(automatic) == 1, "one automatic answer in Milton's thread")
    amy = demo.replies(w.INITECH, peters_question["ts"])
    demo.check(
        bool(amy) and bool(automatic) and "Billing → Invoices → Export" in automatic[0]["text"],
        "it is Amy's approved answer to Peter, reused",
    )
    if automatic:
        demo.posted("in Milton's thread, at once", automatic[0]["text"], "green")
        demo.explain(
            w.INITECH,
            automatic[0]["ts"],
            "Sent without approval: AUTO_SEND names this channel, the question is a billing "
            "how-to asked in the same words Amy answered for Peter (grounding and confidence "
            "100%), and every other guard held. It says it is automatic; a reply or a 👎 "
            "would hand it to a person.",
        )
    card = demo.card_for(QUESTION)
    blocks = str(card["blocks"]) if card else ""
    demo.check(
        "Sent automatically" in blocks and ActionId.UNDO_AUTO_SEND in blocks,
        "Milton's card says it was sent automatically, with Undo",
    )
    demo.arrow("its card in #support-triage, with Undo (deletes the answer, hands it to Amy):")
    demo.show_card(card)
