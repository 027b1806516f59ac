"""`triage sandbox`'s page: post as a customer by hand, see what the app did, act on its cards.

The page's forms are read from its HTML and submitted like a browser would, to the real app.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from sandbox.slack_emulator import SlackEmulator
from sandbox.slack_html import mrkdwn
from sandbox.slack_page import install_page
from sandbox.world import ESCALATIONS, build_emulator
from tests.harness import APPROVER, CUSTOMER, SECRET, SHARED, TRIAGE, World, free_port


class Forms(HTMLParser):
    """The forms of a page: action, fields (hidden, select, textarea) and button labels."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}, "buttons": []})
        elif not self.forms:
            return
        fields = self.forms[-1]["fields"] if self.forms else {}
        if tag == "input":
            fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and ("selected" in a or self._select not in fields):
            fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            fields[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data
        elif self.lasttag == "button" and self.forms and data.strip():
            self.forms[-1]["buttons"].append(data.strip())


def forms(page: str) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(page)
    return parser.forms


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    """GET without following redirects: (status, Location or "", body)."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def submit(base: str, form: dict[str, Any], **changes: str) -> tuple[int, str]:
    """Submit a page form like a browser (following the redirect): (status, page)."""
    data = urllib.parse.urlencode({**form["fields"], **changes}).encode()
    try:
        with urllib.request.urlopen(base + form["action"], data=data, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def button(page: str, label: str) -> dict[str, Any]:
    [form] = [f for f in forms(page) if label in f["buttons"]][-1:]
    return form


@pytest.fixture
def lone_emulator() -> Iterator[SlackEmulator]:
    """The sandbox's Slack with nothing listening at its app URL (the app is not started)."""
    emu = build_emulator(
        event_url=f"http://127.0.0.1:{free_port()}/slack/events", signing_secret=SECRET
    )
    with emu:
        yield emu


@pytest.fixture
def page(world: World) -> str:
    """The sandbox page on the world's Slack, which sends its events to the world's app."""
    world.emu.event_url = f"{world.url}/slack/events"
    world.emu.signing_secret = SECRET
    return install_page(world.emu)


def test_a_post_from_the_page_reaches_the_app_and_its_card_shows_on_the_page(
    world: World, page: str
) -> None:
    base = world.emu.base_url
    _, _, html = get(page)
    [post] = [f for f in forms(html) if f["action"] == "/_sandbox/post"]
    # A customer in the customer's shared channel, not the first channel id and its first user.
    assert (post["fields"]["channel"], post["fields"]["user"]) == (SHARED, CUSTOMER)
    status, html = submit(base, post, text="Hello from the sandbox page: can we add seats?")
    assert status == 200
    world.drain()
    assert len(world.cards()) == 1
    _, _, html = get(page)
    assert "Hello from the sandbox page" in html and "Request #1" in html
    # Channels by name, their ids kept small; the card drawn from its blocks, with buttons.
    assert "#ext-globex (shared with Globex)" in html and "#support-triage" in html
    assert "<small class='id'>C0TRIAGE</small>" in html
    assert "#C0TRIAGE" not in html and "<b>Request #1</b>" in html
    labels = [b for f in forms(html) if f["action"] == "/_sandbox/click" for b in f["buttons"]]
    assert {"Approve & send", "Edit", "Reject"} <= set(labels)


def test_slash_in_a_browser_shows_the_page_and_api_clients_keep_the_json(
    lone_emulator: SlackEmulator,
) -> None:
    install_page(lone_emulator)
    base = lone_emulator.base_url
    status, location, _ = get(f"{base}/", accept="text/html,application/xhtml+xml,*/*;q=0.8")
    assert (status, location) == (302, "/_sandbox/page")
    status, _, body = get(f"{base}/", accept="*/*")  # curl, scripts
    assert status == 200 and json.loads(body)["api_url"] == lone_emulator.api_url


def test_posting_with_no_app_says_so_on_the_page_and_logs_it(
    lone_emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    page = install_page(lone_emulator)
    _, _, html = get(page)
    [post] = [f for f in forms(html) if f["action"] == "/_sandbox/post"]
    with caplog.at_level(logging.WARNING):
        status, html = submit(lone_emulator.base_url, post, text="Anyone there?")
    assert status == 502
    assert f"The app is not answering at {lone_emulator.event_url}" in html
    assert "triage serve" in html and "Anyone there?" in html  # stored, and shown
    assert "sandbox.app_not_answering" in caplog.text


def test_clicking_approve_on_the_page_sends_the_reply_to_the_customer(
    world: World, page: str
) -> None:
    asked = world.customer_says("How do I reset my password?")["event"]
    world.drain()
    [card] = world.cards()
    _, _, html = get(page)
    approve = button(html, "Approve & send")
    assert (approve["fields"]["channel"], approve["fields"]["as"]) == (TRIAGE, APPROVER)
    status, html = submit(world.emu.base_url, approve)
    assert status == 200
    world.drain()
    # The app verified the signed block_actions and acted: the draft is in the customer's thread.
    [reply] = world.replies_in(asked["ts"])
    [draft] = [
        b["text"]["text"]
        for b in card["blocks"]
        if b.get("text", {}).get("text", "").startswith("*Draft reply*\n")
    ]
    assert draft == "*Draft reply*\n" + reply["text"]
    _, _, html = get(page)
    assert "Approved by" in html and "Approve &amp; send" not in html


def test_a_modal_the_app_opens_is_shown_and_submitted_from_the_page(
    world: World, page: str
) -> None:
    asked = world.customer_says("Can you add two seats to our plan?")["event"]
    world.drain()
    _, _, html = get(page)
    status, html = submit(world.emu.base_url, button(html, "Edit"))
    assert status == 200 and "Edit reply" in html  # the app's views.open, on the page
    [edit] = [f for f in forms(html) if f["action"] == "/_sandbox/submit"]
    field = next(k for k in edit["fields"] if k.startswith("draft_text|"))
    assert edit["fields"][field].strip()  # prefilled with the draft
    status, html = submit(world.emu.base_url, edit, **{field: "  "})
    assert "The reply cannot be empty." in html  # the app's response_action: errors
    status, html = submit(world.emu.base_url, edit, **{field: "Done: two seats added."})
    assert status == 200 and "Edit reply" not in html
    world.drain()
    [reply] = world.replies_in(asked["ts"])
    assert reply["text"] == "Done: two seats added."


def test_message_text_is_escaped_and_its_mrkdwn_drawn(lone_emulator: SlackEmulator) -> None:
    page = install_page(lone_emulator)
    lone_emulator.post_as_user(
        ESCALATIONS, APPROVER, "<script>alert(1)</script> *bold* <javascript:alert(2)|x>"
    )
    _, _, html = get(page)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert "href='javascript" not in html and "<b>bold</b>" in html
    names = {"U0AMY": "Amy"}
    assert mrkdwn("_hi_ `a*b*` ~no~", names) == "<i>hi</i> <code>a*b*</code> <s>no</s>"
    assert mrkdwn("<@U0AMY> &lt;b&gt;", names) == "<span class='mention'>@Amy</span> &lt;b&gt;"
    assert mrkdwn(">quoted\n>twice", names) == "<blockquote>quoted\ntwice</blockquote>"
    # A quote is a block: a line break kept before or after it would show as an empty line.
    assert mrkdwn("see\n>quoted\nafter", names) == "see<blockquote>quoted</blockquote>after"
    link = mrkdwn("<https://x.test/?a=1&amp;b='2'|the *docs*>", names)
    assert (
        link == "<a href='https://x.test/?a=1&amp;b=&#x27;2&#x27;' target='_blank'>the *docs*</a>"
    )
    assert mrkdwn("<!date^1700000000^{date}|Nov 14>", names) == "Nov 14"
