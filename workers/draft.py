"""Draft (SPEC §5.4): the reply an account manager approves, edits or rejects.

With a model: a structured answer (reply, confidence, needs_expert, sources) from a prompt
built by `workers.prompt`, checked here before it reaches the card. Without one (no
`OPENAI_API_KEY`), the offline drafter reuses the closest approved answer of this account or a
knowledge-base passage, or writes an honest acknowledgement. Either way the card says how the
draft was made; when the model fails, the draft is marked unavailable with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from integrations.llm import LanguageModel, ModelUnavailable
from workers.acknowledgements import acknowledgement, greeting, phrases
from workers.attachments import Attachments, Image, Unseen
from workers.grounding_score import grounding_scores
from workers.language import detect_language, language_code
from workers.prompt import Prompt, ThreadMessage, draft_prompt
from workers.redaction import redact
from workers.retrieval import Grounding
from workers.stage_data import DraftDetails, RequestContext, Translation, UnseenImage
from workers.triage import Category, Triage, Urgency


class DraftResult(BaseModel):
    """What the model must answer (its JSON schema is sent as the response format)."""

    reply: str = Field(description="The reply to post in the customer's thread, Slack mrkdwn.")
    confidence: float = Field(ge=0, le=1)
    needs_expert: bool
    sources: list[str] = Field(description="Ids of the references used, e.g. example-1, kb-2.")
    language: str = Field(description="ISO 639-1 code of the customer's language, e.g. es.")
    message_translation: str = Field(
        description="The customer's messages in the team's language; empty when written in it."
    )
    reply_translation: str = Field(
        description="The reply in the team's language; empty when the customer wrote in it."
    )


class TriagedDraft(DraftResult):
    """The triage and the draft in one answer (the class name is the JSON schema's name)."""

    category: Category
    urgency: Urgency
    summary: str = Field(description="One short line in English.")
    needs_reply: bool


@dataclass(frozen=True)
class DraftJob:
    """Everything a draft is made from, read from the database before the model is called."""

    request_id: int
    user_id: str
    channel_id: str
    thread: list[ThreadMessage]
    triage: Triage  # as stored; when the model triages in the same call, not used by it
    context: RequestContext | None
    grounding: Grounding
    # The request's files; the images in it are downloaded only when a model will read them.
    attachments: Attachments = field(default_factory=Attachments)
    workspace: tuple[str | None, str | None] = (None, None)  # (team, enterprise) of the channel
    language: str | None = None  # the customer's, detected (workers.language); None: unsure
    team_language: str = "en"  # the approvers' (TEAM_LANGUAGE)


@dataclass(frozen=True)
class Drafted:
    text: str
    source: str  # openai | offline | unavailable
    note: str  # what the card says about how this draft was made
    details: DraftDetails = field(default_factory=DraftDetails)


def write_draft(llm: LanguageModel | None, job: DraftJob) -> Drafted:
    """The model's draft, checked; the offline draft without a model; never an exception."""
    if llm is None:
        return draft_offline(job)  # it reads no images, so the card says nothing about them
    return _ask(llm, job, DraftResult)[1]


def triage_and_draft(llm: LanguageModel, job: DraftJob) -> tuple[Triage | None, Drafted]:
    """One model call for both: the request's triage and its draft (SPEC §5.2, §5.4).

    Half the calls of triaging first and drafting after, and the triage reads the whole thread
    with the account's context. The triage is None when the model gave no answer (the caller
    falls back to the offline rules); the draft then says why it is unavailable."""
    answer, drafted = _ask(llm, job, TriagedDraft)
    if not isinstance(answer, TriagedDraft):
        return None, drafted
    return Triage.model_validate(answer.model_dump(include=set(Triage.model_fields))), drafted


def _ask(
    llm: LanguageModel, job: DraftJob, schema: type[DraftResult]
) -> tuple[DraftResult | None, Drafted]:
    """Ask the model for `schema` (a draft, or a draft with its triage); the answer and the
    draft made of it, checked, or None and an unavailable draft saying why."""
    files, images, unseen = job.attachments.files, job.attachments.images, job.attachments.unseen
    with_triage = schema is TriagedDraft

    def prompt_with(images: tuple[Image, ...]) -> Prompt:
        return draft_prompt(
            thread=job.thread,
            context=job.context,
            grounding=job.grounding,
            files=files,
            images=images,
            with_triage=with_triage,
            language=job.language,
            team_language=job.team_language,
        )

    prompt = prompt_with(images)
    masked = prompt.masked_summary()
    try:
        try:
            answer = llm.parse(prompt.messages, schema)
        except ModelUnavailable as exc:
            if not images or exc.status != 400:
                raise
            # A model (or an OpenAI-compatible endpoint) that takes no images: draft without.
            why = f"the model refused images: {exc}"
            unseen += tuple(Unseen(image.name, why) for image in images)
            images = ()
            prompt = prompt_with(images)
            answer = llm.parse(prompt.messages, schema)
    except ModelUnavailable as exc:
        return None, Drafted(
            "",
            "unavailable",
            f"Draft unavailable: {exc}. Regenerate once the model is back, or write "
            "the reply with Edit.",
            DraftDetails(
                error=str(exc),
                masked=masked,
                language=job.language,
                translation=_untranslated(job, job.language, "the model is unavailable"),
            ),
        )
    flags = check_draft(answer.reply, job) + [u.describe() for u in unseen]
    flags += [
        f"{c.label.replace('-', ' ')}: the model saw the first {c.shown:,} of its "
        f"{c.length:,} characters"
        for c in prompt.cuts
    ]
    note = f"Drafted by {llm.name} · confidence {answer.confidence:.0%}"
    if images:
        note += " · it saw " + ", ".join(image.name for image in images)
    if answer.needs_expert:
        note += " · the model thinks an expert should check this"
    if answer.sources:
        note += " · based on " + ", ".join(_describe(s, job.grounding) for s in answer.sources)
    if masked:
        note += " · masked before sending: " + ", ".join(f"{n} {k}" for k, n in masked.items())
    language = language_code(answer.language) or job.language
    translation = _untranslated(job, language, "the model gave none")
    given = answer.message_translation.strip() or answer.reply_translation.strip()
    if translation is not None and answer.reply.strip() and given:
        translation.message = answer.message_translation.strip()
        translation.reply = answer.reply_translation.strip()
        translation.missing = None
    return answer, Drafted(
        answer.reply.strip(),
        "openai",
        note,
        DraftDetails(
            confidence=answer.confidence,
            needs_expert=answer.needs_expert,
            sources=answer.sources,
            flags=flags,
            masked=masked,
            model=llm.name,
            images=[image.file_id for image in images],
            unseen=[UnseenImage(name=u.name, reason=u.reason) for u in unseen],
            language=language,
            translation=translation,
            grounding=grounding_scores(_question(job), job.grounding),
        ),
    )


def _question(job: DraftJob) -> str:
    return "\n".join(m.text for m in job.thread if m.author == "customer")


def _untranslated(job: DraftJob, language: str | None, why: str) -> Translation | None:
    """An empty translation saying `why` there is none, when the customer's language is known
    and not the team's; None when the approvers read the customer's language (or it is not
    known: the card then names none)."""
    if language is None or language == job.team_language:
        return None
    return Translation(language=job.team_language, missing=why)


def _describe(source: str, grounding: Grounding) -> str:
    kind, _, number = source.partition("-")
    index = int(number) - 1 if number.isdigit() else -1
    if kind == "example" and 0 <= index < len(grounding.examples):
        example = grounding.examples[index]
        liked = " that people gave a 👍" if example.liked else ""
        return f"an answer approved {example.age}{liked}"
    if kind == "kb" and 0 <= index < len(grounding.passages):
        return grounding.passages[index].source
    return source


_URL = re.compile(r"https?://[^\s|>]+")
_MENTION = re.compile(r"<([@#])([A-Z0-9]+)(?:\|[^>]*)?>")
_SENSITIVE = {"secret", "password", "url_password", "card"}


def check_draft(reply: str, job: DraftJob) -> list[str]:
    """What an approver must look at before sending: flags shown on the card (SPEC §5.4)."""
    flags = []
    found = redact(reply).masked
    if any(found[kind] for kind in _SENSITIVE):
        flags.append("it contains what looks like a secret or a card number")
    if re.search(r"\[(?:EMAIL|PHONE|CARD|SECRET|PASSWORD|URL_PASSWORD)_\d+\]", reply):
        flags.append("it repeats a masked value; put the real one in with Edit, or remove it")
    sources = " ".join(
        [m.text for m in job.thread]
        + [e.answer for e in job.grounding.examples]
        + [p.text for p in job.grounding.passages]
        + [job.context.summary if job.context is not None else ""]
    )
    for url in _URL.findall(reply):
        if url.rstrip(".,)") not in sources:
            flags.append(f"it links to {url.rstrip('.,)')}, which is in none of its sources")
    allowed = {("@", job.user_id), ("#", job.channel_id)}
    if any(m not in allowed for m in _MENTION.findall(reply)):
        flags.append("it mentions people or channels that are not in this conversation")
    return flags


def to_mrkdwn(markdown: str) -> str:
    """Markdown from the knowledge base as Slack mrkdwn: paragraphs unwrapped, **bold** as
    *bold*, [text](url) as <url|text>; code and lists kept as they are."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.splitlines()
        keep = any(
            line.lstrip().startswith(("- ", "* ", "```", "|"))
            or line[:2].strip().rstrip(".").isdigit()
            for line in lines
        )
        paragraphs.append(block if keep else " ".join(line.strip() for line in lines))
    text = "\n\n".join(paragraphs)
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: f"*{m.group(1) or m.group(2)}*", text)
    return re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


# The greeting of a reused answer: the word, up to three words of a name and their mark ("Hi
# Peter! ", "Hello there, ", "Hey Carol — "), or the bare word; never up to a later comma.
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear)\b(?:(?:\s+[^\s,!.:;—–-]+){0,3}?\s*[,!.:;—–-]\s*|\s*)",
    re.IGNORECASE,
)


def draft_offline(job: DraftJob) -> Drafted:
    """Without a model: reuse what this account was told before, the knowledge base, or say
    honestly that we are on it, in the customer's language (or the team's, when it could not
    be told: `workers.acknowledgements`). Never promises anything specific it was not given."""
    said = phrases(job.language, job.team_language)
    hello = greeting(said, job.user_id)
    language = job.language
    translation = _untranslated(job, language, "offline draft")
    example = next((e for e in job.grounding.examples if _may_reuse(e.answer, language)), None)
    scores = grounding_scores(_question(job), job.grounding)
    if example is not None:
        liked = " (people gave it a 👍)" if example.liked else ""
        text = hello + _GREETING.sub("", example.answer, count=1)
        return Drafted(
            text,
            "offline",
            f"Offline draft: reuses an answer approved for this account {example.age}"
            f"{liked}. Check it fits this question (no OPENAI_API_KEY is set).",
            DraftDetails(
                # How sure it is that this is the question a person answered before: the
                # answer is theirs, word for word, so it is as good as the match (SPEC §6.7).
                confidence=scores.get(f"request:{example.request_id}", 0.0),
                sources=[f"request:{example.request_id}"],
                flags=check_draft(text, job),  # what it said then may not fit now
                language=language,
                translation=translation,
                grounding=scores,
            ),
        )
    if job.grounding.passages:
        passage = job.grounding.passages[0]
        body = to_mrkdwn(passage.text.split("\n", 1)[-1].strip())
        quoted = "\n".join(f">{line}" for line in _clip(body, 700).splitlines())
        return Drafted(
            f"{hello}{said.documentation}\n{quoted}",
            "offline",
            f"Offline draft from the knowledge base ({passage.source}). "
            "Check it answers the question (no OPENAI_API_KEY is set).",
            DraftDetails(
                sources=[passage.source],
                language=language,
                translation=translation,
                grounding=scores,
            ),
        )
    return Drafted(
        acknowledgement(said, job.user_id, job.triage.category, job.triage.urgency),
        "offline",
        "Offline draft: no OPENAI_API_KEY is set, so this is an acknowledgement, not an answer.",
        DraftDetails(language=language, translation=translation),
    )


def _may_reuse(answer: str, language: str | None) -> bool:
    """Whether an approved answer may be offered again offline: not one in another language
    than the customer's (when both are known)."""
    written_in = detect_language(answer)
    return language is None or written_in is None or written_in == language
