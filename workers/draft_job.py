"""What a draft is made of, and how a new one is kept: the draft stage's reads and writes.

Both pipeline stages that draft (`_draft`, and `_triage_and_draft` with a model) read the
request's thread, its triage, its account context and its grounding here, from this request's
own tenant only (SPEC §5.4), and keep the result with `store_draft`.
"""

from __future__ import annotations

from dataclasses import replace

import structlog
from sqlalchemy.orm import Session

from integrations.deps import Deps
from integrations.store.db import transaction
from integrations.store.models import Draft, DraftStatus, Request, Stage
from integrations.store.search_index import ANSWERS
from workers.attachments import Attachments, customer_files, describe_stubs, is_stub, read_images
from workers.draft import Drafted, DraftJob
from workers.language import detect_language
from workers.metrics import DRAFTS
from workers.prompt import ThreadMessage
from workers.retrieval import Scope, knowledge_base, retrieve
from workers.semantic import Query, prepare
from workers.stage_data import request_context, request_triage, stored

log = structlog.get_logger(__name__)


def prepared_draft_job(deps: Deps, request_id: int, done: Stage) -> DraftJob | None:
    """The draft's makings with its files named and, for a model, its images read; None when
    its draft is decided already (then the stage is done)."""
    meaning = _meaning(deps, request_id)
    job, stubs = draft_job(deps, request_id, done, meaning)
    if stubs:  # Slack Connect files arrive as bare ids: name them, then read them named
        describe_stubs(deps, request_id)
        if job is not None:
            job, _ = draft_job(deps, request_id, done, meaning)
    if job is None:
        return None
    # The customer's language, from all their words; outside the transaction (the first
    # detection of a process loads its model, about 0.7 s).
    language = detect_language("\n".join(m.text for m in job.thread if m.author == "customer"))
    job = replace(job, language=language, team_language=deps.settings.team_language)
    if deps.llm is not None:  # only a model reads images: download them, outside a transaction
        files = job.attachments.files
        job = replace(job, attachments=read_images(deps, files, job.workspace))
    return job


def _meaning(deps: Deps, request_id: int) -> Query | None:
    """The question's vector, with its tenant's answers and the knowledge base embedded, no
    transaction open while embedding; None without an embedding model, or on any failure:
    then retrieval is BM25's alone, and the draft goes on."""
    if deps.embedder is None:
        return None
    try:
        with transaction(deps.sessions) as session:
            request = session.get_one(Request, request_id)
            scope = Scope.for_request(request.channel_id, request_context(request))
        folder = deps.settings.knowledge_dir
        passages = [text for _, text in knowledge_base(folder).passages] if folder else []
        return prepare(
            deps.sessions,
            deps.embedder,
            request_id,
            ANSWERS,
            scope.account_key,
            exclude_request=request_id,
            passages=passages,
            cache=deps.vectors,
        )
    except Exception:  # a draft is never blocked by a vector
        log.exception("semantic.failed", request_id=request_id)
        return None


def draft_job(
    deps: Deps, request_id: int, done: Stage, meaning: Query | None = None
) -> tuple[DraftJob | None, bool]:
    """What the draft is made of, all of it from this request's own tenant (SPEC §5.4), or
    None when its draft is decided already (then the stage is done here); and whether any of
    its files is a stub that `files.info` must describe first."""
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        files = customer_files(request.messages)
        stubs = any(is_stub(f) for f in files)
        current = request.current_draft
        if current is not None and current.status != DraftStatus.PENDING:
            request.stage = done
            return None, stubs
        context = request_context(request)
        scope = Scope.for_request(request.channel_id, context)
        request.account_key = scope.account_key
        grounding = retrieve(
            session,
            scope,
            request.text,
            exclude_request=request.id,
            knowledge_dir=deps.settings.knowledge_dir,
            meaning=meaning,
        )
        if grounding.scope != scope:  # by construction; checked because it must never fail
            raise RuntimeError(f"grounding for {grounding.scope} offered to {scope}")
        return DraftJob(
            request_id=request.id,
            user_id=request.user_id,
            channel_id=request.channel_id,
            thread=[ThreadMessage("customer", m.text) for m in request.messages if m.text],
            triage=request_triage(request),
            context=context,
            grounding=grounding,
            attachments=Attachments(files),
            workspace=(request.team_id, request.enterprise_id),
        ), stubs


def store_draft(session: Session, request: Request, drafted: Drafted) -> bool:
    """Add the new draft, superseding a pending one; False (nothing written) when the draft was
    approved or rejected while the model was writing."""
    current = request.current_draft
    if current is not None and current.status != DraftStatus.PENDING:
        return False
    if current is not None:
        current.status = DraftStatus.SUPERSEDED
    session.add(
        Draft(
            request_id=request.id,
            text=drafted.text,
            source=drafted.source,
            note=drafted.note,
            details=stored(drafted.details),
        )
    )
    return True


def count_draft(request_id: int, drafted: Drafted) -> None:
    DRAFTS.labels(outcome={"openai": "drafted"}.get(drafted.source, drafted.source)).inc()
    log.info(
        "draft.written",
        request_id=request_id,
        source=drafted.source,
        flags=len(drafted.details.flags),
    )
