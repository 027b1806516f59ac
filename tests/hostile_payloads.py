"""Hypothesis strategies for hostile Slack requests, grown from Slack's own sample payloads.

Each request starts from a real one (tests/fixtures/slack_samples, copied from Slack's SDK test
suites, and the sandbox's builders for the events the samples lack), aimed at the test world
(its organisation, channels and response URLs), then mutated a few times: a field dropped, a
value of the wrong type, a huge or unicode-hostile string, structures nested deep. The result
is signed like Slack signs, so it reaches the app's listeners rather than the signature check.

`Base.pinned` lists what makes a request *not* a customer message (the bot id of a bot's
message, `is_ext_shared_channel: false`...): mutations leave those alone, so a test may assert
that no request is ever opened from one. Used by tests/test_hostile_property.py and
bench/hostile.py.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from sandbox.slack_events import (
    bot_message_envelope,
    channel_join_envelope,
    envelope,
    member_joined_envelope,
    message_envelope,
    reaction_envelope,
)
from sandbox.world import APPROVER, BOT_USER, CUSTOMER_TEAM, ORG, SHARED
from workers.ids import ActionId, CallbackId

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "slack_samples"
Path_ = tuple[str | int, ...]

# One character or short run each: what breaks parsers, databases, terminals and Slack's own
# markup. Lone surrogates reach the app as JSON escapes (`"\ud800"`), as a hostile client
# would write them; NUL cannot be stored in PostgreSQL; bidi and zero-width characters hide
# text; tags (U+E00xx) smuggle invisible instructions to a model.
HOSTILE_CHARACTERS = [
    "\x00",
    "\ud800",
    "\udfff",
    "\udbff\udfff",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\U000e0041",
    "\U000e007f",
    "\u0301\u0301\u0301",
    "\uffff",
    "\U0010ffff",
    "😀",
    "👩‍💻",
    "🇺🇸",
    "مرحبا",
    "שלום",
    "𝕏",
    "\r\n",
    "\t",
    "\x1b[31m",
    "\x7f",
    "<!channel>",
    "<@U0AMY>",
    "<https://evil.test|click>",
    "&amp;&lt;",
    "<script>",
    "%00",
    "'\"\\",
    "{{7*7}}",
]

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_CHARACTERS), st.text(max_size=8)), max_size=24
).map("".join)


def _repeat(seed: str, size: int) -> str:
    return (seed or "x") * (size // max(len(seed), 1) + 1)


# Long enough to matter, short enough that most stay under the app's 1 MB limit once escaped.
huge_text = st.builds(
    lambda seed, size: _repeat(seed, size)[:size], hostile_text, st.integers(4_000, 120_000)
)
WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 2**63, 2**80, 1.5, float("nan")]
WRONG_TYPES += [float("inf"), "", " ", "null", "1e400", "-0", "0x10", [], {}, [None], {"": None}]
# Copied when drawn: a later mutation may add a key to the `{}` it put in a body.
wrong_types = st.sampled_from(WRONG_TYPES).map(copy.deepcopy)


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


deep = st.builds(_nested, st.integers(8, 90), st.one_of(hostile_text, wrong_types))
hostile_value = st.one_of(
    hostile_text,
    huge_text,
    wrong_types,
    deep,
    st.lists(hostile_text, max_size=4),
    st.dictionaries(hostile_text, hostile_text, max_size=3),
)
# Keys a hostile envelope might add: the ones the app reads, and noise.
KEYS = ["type", "subtype", "bot_id", "user", "user_team", "team", "thread_ts", "ts", "files"]
KEYS += ["is_ext_shared_channel", "text", "event", "actions", "view", "callback_id", "value"]


@dataclass(frozen=True)
class Base:
    """A request before mutation: `body` is the event envelope (`wire` json), the
    interactivity payload (`payload`, sent as `payload=<json>`) or the command's fields
    (`form`); `customer` when it is a customer's message as it stands."""

    name: str
    body: dict[str, Any]
    wire: str = "json"
    pinned: tuple[Path_, ...] = ()
    customer: bool = False


def encode(base: Base, body: dict[str, Any]) -> tuple[bytes, str]:
    """The bytes Slack would POST for `body`, and their content type. JSON escapes lone
    surrogates (ASCII output); a form body keeps them as the bytes they encode to."""
    if base.wire == "json":
        return json.dumps(body).encode(), "application/json"
    if base.wire == "payload":
        form: dict[str, Any] = {"payload": json.dumps(body)}
    else:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    raw = urlencode(form, encoding="utf-8", errors="surrogatepass").encode()
    return raw, "application/x-www-form-urlencoded"


def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return loaded


def _ours(payload: dict[str, Any]) -> dict[str, Any]:
    """An interactivity payload as one of the organisation's people sends it, so it gets
    past the who-may-click check and into the flows behind it."""
    ours = copy.deepcopy(payload)
    ours["user"] = {"id": APPROVER, "team_id": ORG, "username": "amy"}
    ours["team"] = {"id": ORG, "domain": "acme"}
    return ours


def bases(response_url: str) -> list[Base]:
    """Every kind of request Slack sends the app, each aimed at the test world."""
    context: dict[str, Any] = dict(
        installed_team_id=ORG, bot_user_id=BOT_USER, is_ext_shared_channel=True
    )
    person = {"user": "U0DAVE", "text": "Hello?", "ts": "1700000000.000100"}
    found: list[Base] = []

    def event(name: str, body: dict[str, Any], *pinned: Path_) -> None:
        found.append(Base(name, body, "json", (("type",), ("event", "type"), *pinned)))

    not_shared = ("is_ext_shared_channel",)
    for name in ["event_message_changed", "event_message_deleted"]:
        event(name, _sample(name), not_shared)
    for name in ["event_message_thread_broadcast", "event_message_thread_reply"]:
        event(name, _sample(name), not_shared)
    for name in ["event_app_home_opened_org_app", "event_app_mention_slack_connect_user_team"]:
        event(name, _sample(name.replace("_team", "_team_source_team", 1)))
    event("event_reaction_added", _sample("event_reaction_added"))
    event("event_reaction_added_slack_connect", _sample("event_reaction_added_slack_connect"))
    event(
        "reaction_removed",
        reaction_envelope(APPROVER, "+1", channel=SHARED, ts="1.2", added=False, **context),
    )
    event("url_verification", _sample("url_verification"))
    for kind in ["app_uninstalled", "tokens_revoked", "member_left_channel"]:
        event(kind, envelope({"type": kind, "event_ts": "1.2"}, channel=SHARED, **context))
    event("member_joined", member_joined_envelope(APPROVER, channel=SHARED, **context))
    bot = {**person, "bot_id": "B0OTHER", "user": "U0OTHERBOT"}
    event("bot_message", bot_message_envelope(bot, channel=SHARED, **context), ("event", "bot_id"))
    join = channel_join_envelope("U0DAVE", channel=SHARED, **context)
    event("channel_join", join, ("event", "subtype"))
    colleague = message_envelope(person, channel=SHARED, author_team_id=ORG, **context)
    teams = [("event", k) for k in ("team", "user_team", "source_team", "user_profile")]
    event("colleague_top_level", colleague, *teams, ("event", "thread_ts"), ("enterprise_id",))

    command = _sample("slash_command")["parsed"]
    for name in ["/triage", "/escalate"]:
        for text in ["", "help", "status", "link Acme", "urgent"]:
            body = {**command, "command": name, "text": text, "response_url": response_url}
            found.append(Base(f"command {name} {text}", body, "form", (("command",),)))
            ours = {**body, "team_id": ORG, "user_id": APPROVER, "enterprise_id": ""}
            found.append(Base(f"command {name} {text} (ours)", ours, "form", (("command",),)))

    clicks = [_sample("block_actions")["payload"]]
    clicks.append(_sample("block_actions_ephemeral_enterprise")["payload"])
    for action_id in [*ActionId, "button"]:
        for click in clicks:
            body = copy.deepcopy(click)
            body["actions"][0].update(action_id=action_id, value="1")
            body["response_url"] = response_url
            for who, payload in [("theirs", body), ("ours", _ours(body))]:
                found.append(Base(f"click {action_id} ({who})", payload, "payload", (("type",),)))
    views = [
        _sample("view_submission")["payload"],
        _sample("view_submission_slack_connect")["payload"],
    ]
    for callback_id in [CallbackId.EDIT_DRAFT, CallbackId.REJECT_DRAFT, "escalate_request", "x"]:
        for view in views:
            body = copy.deepcopy(view)
            body["view"].update(callback_id=callback_id, private_metadata='{"draft_id": 1}')
            for who, payload in [("theirs", body), ("ours", _ours(body))]:
                found.append(
                    Base(f"submit {callback_id} ({who})", payload, "payload", (("type",),))
                )
    shortcut = _sample("message_shortcut")["payload"]
    shortcut.update(callback_id=CallbackId.ESCALATE_MESSAGE, response_url=response_url)
    found.append(Base("shortcut", shortcut, "payload", (("type",),)))
    found.append(Base("shortcut (ours)", _ours(shortcut), "payload", (("type",),)))

    for name in [
        "event_message_slack_connect_external_user",
        "event_message_slack_connect_external_user_mention",
    ]:
        found.append(Base(name, _sample(name), "json", customer=True))
    customer = message_envelope(person, channel=SHARED, author_team_id=CUSTOMER_TEAM, **context)
    found.append(Base("customer_message", customer, "json", customer=True))
    return found


def _paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path below `value`, parents before children."""
    found: list[Path_] = []
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    return found


def _touches(path: Path_, pinned: tuple[Path_, ...]) -> bool:
    """True when changing `path` would change a pinned value (it, a parent, or a child)."""
    return any(path[: len(p)] == p or p[: len(path)] == path for p in pinned)


def _at(body: Any, path: Path_) -> Any:
    for key in path:
        body = body[key]
    return body


@st.composite
def mutated(draw: st.DrawFn, base: Base) -> dict[str, Any]:
    """`base.body` changed one to four times (a field dropped, replaced or added); pinned
    values stay as they are, and keys that would pin a new meaning are not added."""
    body = copy.deepcopy(base.body)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(body) if not _touches(p, base.pinned)]
        how = draw(st.sampled_from(["drop", "replace", "replace", "add"]))
        if how == "add" or not paths:
            dicts = [()] + [p for p in _paths(body) if isinstance(_at(body, p), dict)]
            where = draw(st.sampled_from(dicts))
            key = draw(st.one_of(st.sampled_from(KEYS), hostile_text))
            if not _touches((*where, key), base.pinned):
                _at(body, where)[key] = draw(hostile_value)
            continue
        path = draw(st.sampled_from(paths))
        holder = _at(body, path[:-1])
        if how == "drop":
            del holder[path[-1]]
        else:
            holder[path[-1]] = draw(hostile_value)
    return body


def hostile_requests(
    response_url: str, *, customer: bool
) -> st.SearchStrategy[tuple[Base, dict[str, Any]]]:
    """(the base, its mutated body): from a customer's message (`customer`), or from every
    other kind of request Slack sends."""
    chosen = [base for base in bases(response_url) if base.customer == customer]
    return st.sampled_from(chosen).flatmap(
        lambda base: mutated(base).map(lambda body: (base, body))
    )
