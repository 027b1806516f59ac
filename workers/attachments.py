"""Files on a request's customer messages, as the drafting model gets them (SPEC §5.1, §5.4).

Screenshots and photos (PNG, JPEG, GIF, WebP) are downloaded from Slack with the bot token of
the workspace the request came from and shown to the model; every other file is only named.
Bounded: at most `MAX_IMAGES` images of at most `MAX_IMAGE_BYTES` each, `DOWNLOAD_SECONDS` per
file. An image that cannot be shown (too large, a failed download, `MODEL_READS_IMAGES=false`)
never blocks the draft: it is drafted without it, and the card names the file and says why.

Redaction (`workers/redaction.py`) masks text. It cannot mask what an image shows: an email,
a card number or an API key in a screenshot reaches the model as pixels. Teams that must not
send such images turn `MODEL_READS_IMAGES` off; the model is then told the files' names only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from integrations.slack import slack_error
from integrations.slack_files import FileUnavailable, download_private
from integrations.slack_installs import NotInstalled
from integrations.store.db import transaction
from integrations.store.models import Request, RequestMessage
from workers.classify import file_summary

if TYPE_CHECKING:
    from integrations.deps import Deps

log = structlog.get_logger(__name__)

MAX_IMAGES = 4
MAX_IMAGE_BYTES = 4_000_000
DOWNLOAD_SECONDS = 5.0
READABLE = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass(frozen=True)
class Image:
    """An image the model is shown: its bytes, and the type they really are."""

    file_id: str
    name: str
    mimetype: str
    data: bytes

    def data_url(self) -> str:
        return f"data:{self.mimetype};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class Unseen:
    """An image the model was not shown, and why (in words for the card)."""

    name: str
    reason: str

    def describe(self) -> str:
        return f"the model did not see {self.name} ({self.reason}): look at it yourself"


@dataclass(frozen=True)
class Attachments:
    files: tuple[dict[str, Any], ...] = ()  # every file of the request, oldest first
    images: tuple[Image, ...] = ()  # shown to the model, in the order of `files`
    unseen: tuple[Unseen, ...] = ()  # images it was not shown


def customer_files(messages: Iterable[RequestMessage]) -> tuple[dict[str, Any], ...]:
    """The files kept with a request's customer messages (`workers.classify.file_summary`)."""
    return tuple(f for m in messages for f in (m.files or {}).get("files", []))


def file_name(f: dict[str, Any]) -> str:
    return str(f.get("name") or f.get("title") or f.get("id") or "a file")


def read_images(
    deps: Deps, files: tuple[dict[str, Any], ...], workspace: tuple[str | None, str | None]
) -> Attachments:
    """Download the request's images for the model, with the request workspace's bot token.

    In Slack Connect channels Slack often sends a file as a stub (`file_access:
    check_file_info`: an id, no name, type or link); `files.info` describes it first."""
    if not files:
        return Attachments(files)
    if not deps.settings.model_reads_images:
        off = "MODEL_READS_IMAGES is off"
        return Attachments(files, unseen=tuple(Unseen(file_name(f), off) for f in _images(files)))
    try:
        slack = deps.slack_for(*workspace)
    except NotInstalled:
        why = "the app is no longer installed in that workspace"
        return Attachments(files, unseen=tuple(Unseen(file_name(f), why) for f in _images(files)))
    described: list[dict[str, Any]] = []
    images: list[Image] = []
    unseen: list[Unseen] = []
    for stub in files:
        f, error = _describe(slack, stub)
        described.append(f)
        if error is not None:
            unseen.append(Unseen(file_name(f), f"Slack would not describe it: {error}"))
        if error is not None or not _images([f]):
            continue
        shown = _fetch(
            f, token=slack.token or "", api_url=deps.settings.slack_api_url, shown=len(images)
        )
        if isinstance(shown, Image):
            images.append(shown)
        else:
            unseen.append(shown)
            log.warning("image.unseen", file_id=f.get("id"), reason=shown.reason)
    return Attachments(tuple(described), tuple(images), tuple(unseen))


def describe_stubs(deps: Deps, request_id: int) -> int:
    """Ask `files.info` about the files Slack sent as bare ids, and keep what it says, so the
    card names them (model or not) and the model can be shown them. Returns how many."""
    with transaction(deps.sessions) as session:
        request = session.get_one(Request, request_id)
        stubbed = {
            m.id: list(m.files["files"])
            for m in request.messages
            if m.files and any(is_stub(f) for f in m.files.get("files", []))
        }
        workspace = (request.team_id, request.enterprise_id)
    if not stubbed:
        return 0
    try:
        slack = deps.slack_for(*workspace)
    except NotInstalled:
        return 0
    described = {
        message_id: [_describe(slack, f)[0] for f in files] for message_id, files in stubbed.items()
    }
    with transaction(deps.sessions) as session:
        query = select(RequestMessage).where(RequestMessage.id.in_(list(described)))
        for message in session.scalars(query):
            if message.files:  # not withdrawn or purged meanwhile
                message.files = {**message.files, "files": described[message.id]}
    return sum(1 for files in described.values() for f in files if not is_stub(f))


def is_stub(f: dict[str, Any]) -> bool:
    """A file Slack sent as a bare id (Slack Connect): `files.info` must describe it."""
    return bool(f.get("id")) and not f.get("url_private")


def _images(files: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in files if str(f.get("mimetype") or "").startswith("image/")]


def _describe(slack: WebClient, f: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The file as `files.info` describes it, when all we were given is its id."""
    if not is_stub(f):
        return f, None
    try:
        info = slack.files_info(file=str(f["id"]))
    except (SlackApiError, OSError) as exc:  # OSError: Slack out of reach
        log.warning("file.undescribed", file_id=f.get("id"), error=slack_error(exc))
        return f, slack_error(exc)
    return {**f, **file_summary(info.get("file") or {})}, None


def _fetch(f: dict[str, Any], *, token: str, api_url: str, shown: int) -> Image | Unseen:
    name, mimetype = file_name(f), str(f.get("mimetype"))
    if mimetype not in READABLE:
        return Unseen(name, f"the model reads PNG, JPEG, GIF and WebP, not {mimetype}")
    if shown >= MAX_IMAGES:
        return Unseen(name, f"only the first {MAX_IMAGES} images go to the model")
    if int(f.get("size") or 0) > MAX_IMAGE_BYTES:
        return Unseen(name, f"it is larger than {MAX_IMAGE_BYTES / 1_000_000:g} MB")
    if not f.get("url_private"):
        return Unseen(name, "Slack gave no link to download it")
    try:
        data, _ = download_private(
            str(f["url_private"]),
            token=token,
            api_url=api_url,
            max_bytes=MAX_IMAGE_BYTES,
            timeout=DOWNLOAD_SECONDS,
        )
    except FileUnavailable as exc:
        return Unseen(name, str(exc))
    real = sniff(data)  # the bytes decide, not the name: the model is told what they are
    if real is None:
        return Unseen(name, "its content is not a PNG, JPEG, GIF or WebP image")
    return Image(str(f.get("id") or ""), name, real, data)


def sniff(data: bytes) -> str | None:
    """The image type of `data` from its first bytes, when it is one the model reads."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
