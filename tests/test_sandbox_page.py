"""`triage sandbox`'s page: post as a customer by hand, and see what the app did."""

from __future__ import annotations

import urllib.parse
import urllib.request

from sandbox.slack_page import install_page
from tests.harness import CUSTOMER, SECRET, SHARED, World


def test_a_post_from_the_page_reaches_the_app_and_its_card_shows_on_the_page(
    world: World,
) -> None:
    world.emu.event_url = f"{world.url}/slack/events"
    world.emu.signing_secret = SECRET
    page = install_page(world.emu)
    form = urllib.parse.urlencode(
        {
            "channel": SHARED,
            "user": CUSTOMER,
            "text": "Hello from the sandbox page: can we add seats?",
        }
    )
    request = urllib.request.Request(page.replace("/page", "/post"), data=form.encode())
    with urllib.request.urlopen(request, timeout=10) as response:  # follows the 303
        assert response.status == 200
    world.drain()
    assert len(world.cards()) == 1
    with urllib.request.urlopen(page, timeout=10) as response:
        html = response.read().decode()
    assert "Hello from the sandbox page" in html and "Request #1" in html
    assert "#C0TRIAGE" in html and "Approve &amp; send" in html
