"""Files on the Slack emulator: a customer's screenshot, hosted and served like Slack's.

``SlackEmulator.post_as_user(..., files=[{"name": "crash.png", "mimetype": "image/png",
"content": b"..."}])`` hosts the bytes and puts Slack's file object on the message. Its
``url_private`` (``/files-pri/<team>-<file id>/<name>``) and ``url_private_download`` serve the
bytes only with ``Authorization: Bearer <token>`` of someone in a channel the file was shared
in; without such a token Slack redirects to its sign-in page (an HTML page, 200), and so does
this. Add ``"file_access": "check_file_info"`` to a file to get the stub Slack puts on Slack
Connect messages instead (an id, no name, type or link): ``files.info`` describes it.

Downloads are recorded (``SlackEmulator.downloads()``) and can fail or be slow
(``SlackEmulator.fail_download``).
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from sandbox.slack_state import Caller, SlackError, World

FILES_PREFIX = "/files-pri/"
SIGN_IN = "/signin"
_SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>"
    "<h1>Sign in to your workspace</h1></body></html>"
)


@dataclass
class Hosted:
    file: dict[str, Any]  # Slack's file object
    content: bytes
    channels: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Download:
    """One request for a file's bytes: the path asked for, the bearer token, what was answered."""

    path: str
    token: str | None
    status: int
    at: float


@dataclass
class _Fault:
    status: int
    times: int
    delay: float


class FileStore:
    """Hosted files, their downloads, and injected download faults."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.hosted: dict[str, Hosted] = {}
        self.downloads: list[Download] = []
        self.faults: list[_Fault] = []
        self._lock = threading.Lock()

    def host(self, channel: str, user: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Host ``spec["content"]`` shared by ``user`` in ``channel``; returns what the message
        carries (the file object, or Slack Connect's stub when ``spec`` asks for it)."""
        world = self.world
        spec = dict(spec)
        content = bytes(spec.pop("content"))
        stub = spec.pop("file_access", None) == "check_file_info"
        file_id = world.next_id("F")
        team = world.team_of(user)
        name = str(spec.get("name") or f"{file_id}.bin")
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        where = f"{world.base_url}{FILES_PREFIX}{team}-{file_id}"
        obj: dict[str, Any] = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": "application/octet-stream",
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user,
            "user_team": team,
            "editable": False,
            "size": len(content),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{where}/{quote(name)}",
            "url_private_download": f"{where}/download/{quote(name)}",
            "permalink": f"{world.base_url}/files/{user}/{file_id}/{quote(name)}",
            "has_rich_preview": False,
            "file_access": "visible",
            **spec,
        }
        with self._lock:
            self.hosted[file_id] = Hosted(obj, content, {channel})
        if stub:
            return {
                "id": file_id,
                "mode": "file_access",
                "file_access": "check_file_info",
                "created": 0,
                "timestamp": 0,
                "user": "",
            }
        return copy.deepcopy(obj)

    def fail(self, status: int, times: int, delay: float) -> None:
        with self._lock:
            self.faults.append(_Fault(status, times, delay))

    def recorded(self) -> list[Download]:
        with self._lock:
            return list(self.downloads)

    # -- the wire ------------------------------------------------------------------------------

    def serve(self, request: Request, expired: Any = None) -> Response:
        """``GET /files-pri/<team>-<file id>/[download/]<name>``, and the sign-in page."""
        if request.path == SIGN_IN:
            return Response(_SIGN_IN_PAGE, 200, content_type="text/html; charset=utf-8")
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        response = self._answer(request.path, token, expired)
        with self._lock:
            self.downloads.append(Download(request.path, token, response.status_code, time.time()))
        return response

    def _answer(self, path: str, token: str | None, expired: Any) -> Response:
        fault = self._take_fault()
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status != 200:
                return Response(f"HTTP {fault.status}", fault.status, content_type="text/plain")
        team_file = path[len(FILES_PREFIX) :].split("/", 1)[0]
        file_id = team_file.rsplit("-", 1)[-1]
        world = self.world
        with world.lock:
            caller = world.tokens.get(token or "")
            if caller is None or (expired is not None and expired(token)):
                login = f"{SIGN_IN}?redir={quote(path)}"
                return Response("", 302, headers={"Location": login})
            with self._lock:
                hosted = self.hosted.get(file_id)
            if hosted is None or not self._visible(hosted, caller):
                return Response("File not found", 404, content_type="text/html; charset=utf-8")
        return Response(hosted.content, 200, content_type=str(hosted.file["mimetype"]))

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
            return fault

    def _visible(self, hosted: Hosted, caller: Caller) -> bool:
        return any(
            channel in self.world.channels and self.world.is_member(channel, caller.user_id)
            for channel in hosted.channels
        )

    # -- files.info ----------------------------------------------------------------------------

    def files_info(self, world: World, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
        """files.info: the file object, for someone who can see it."""
        with self._lock:
            hosted = self.hosted.get(str(args.get("file") or ""))
        if hosted is None or not self._visible(hosted, caller):
            raise SlackError("file_not_found")
        shown = copy.deepcopy(hosted.file)
        shown["channels"] = sorted(hosted.channels)
        return {"file": shown, "comments": [], "response_metadata": {"next_cursor": ""}}
