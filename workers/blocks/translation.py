"""The approval card's translations (SPEC §5.4): the customer's messages and the draft in the
team's language, made by the model, for an approver who does not read the customer's."""

from __future__ import annotations

import re

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from workers.blocks.kit import clip, plain
from workers.language import language_name
from workers.stage_data import Translation

SECTION_LIMIT = 3000  # Block Kit: a section's text
SHOWN = 2500  # the most of a translation a card shows, as of a message or a draft
_MENTION = re.compile(r"&lt;([@#][UWC][A-Z0-9]+)&gt;")


def message_translation(translation: Translation) -> Block:
    """Under the customer's words: what they say in the team's language, or why the card
    cannot say."""
    name = language_name(translation.language)
    if not translation.message:
        why = f" ({plain(translation.missing)})" if translation.missing else ""
        text = clip(f"🌐 No {name} translation available{why}.", SECTION_LIMIT)
        return ContextBlock(elements=[MarkdownTextObject(text=text)])
    return _translated(f"🌐 *In {name}* (machine translation)", translation.message, quoted=True)


def draft_translation(translation: Translation) -> Block:
    """Under the draft: the draft in the team's language."""
    name = language_name(translation.language)
    return _translated(f"*The draft in {name}* (machine translation)", translation.reply)


def _translated(label: str, text: str, *, quoted: bool = False) -> SectionBlock:
    """A model's translation under `label`, within a section's 3,000 characters, as plain
    words (`plain_words`); a longer one is cut at a word, saying so."""
    shown = plain_words(text)
    if len(shown) > SHOWN:
        head = shown[:SHOWN].rsplit(" ", 1)[0]
        shown = f"{head}\n_…shortened: {len(shown):,} characters, the first {len(head):,} shown_"
    if quoted:
        shown = "\n".join(f">{line}" for line in shown.splitlines())
    return SectionBlock(text=MarkdownTextObject(text=clip(f"{label}\n{shown}", SECTION_LIMIT)))


def plain_words(text: str) -> str:
    """A model's text as plain words: Slack's escapes undone, then redone, so nothing in it is
    markup (no channel ping, no link of its own); only user and channel mentions (`<@U…>`,
    `<#C…>`) stay mentions."""
    unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _MENTION.sub(r"<\1>", plain(unescaped))
