"""The incident card's clicks and its update modal (SPEC §6.6), parsed at the boundary as
`payloads` parses the approval card's."""

from __future__ import annotations

from typing import Literal

from pydantic import Json

from app.listeners.payloads import BlockAction, Typed, _at, _input, _Model, _Submission
from workers.ids import BlockId


class IncidentClick(BlockAction):
    """`incident_update` / `incident_resolve` on the incident card: the value is its number."""

    incident_id: int = _at("actions", 0, "value")


class SplitClick(BlockAction):
    """`incident_split`: the value is the request taken out of the incident."""

    request_id: int = _at("actions", 0, "value")


class SendUpdateClick(BlockAction):
    """`incident_send_update` on a late report's card: `<update id>:<request id>`."""

    value: str = _at("actions", 0, "value")

    @property
    def ids(self) -> tuple[int, int]:
        """(update, request); (0, 0), which matches nothing, when the value is not ours."""
        update, _, request = self.value.partition(":")
        if update.isdigit() and request.isdigit():
            return int(update), int(request)
        return 0, 0


class _UpdateRef(_Model):
    incident_id: int
    kind: Literal["update", "resolve"]


class UpdateForm(_Submission):
    """The `incident_update` modal: the update as the person wrote it, for which incident,
    and whether it closes the incident."""

    metadata: Json[_UpdateRef] = _at("view", "private_metadata")
    text: Typed = _input(BlockId.INCIDENT_TEXT, BlockId.INCIDENT_TEXT_INPUT, "value", default="")
