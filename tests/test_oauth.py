"""OAuth installs (SPEC §3, §4): the install flow against the emulator's consent screen and
oauth.v2.access, who may install, a second workspace answered with its own token, Enterprise
Grid org-wide installs, and token rotation spent once across processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from redis import Redis
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.doctor import run_doctor
from app.main import create_app
from app.web import create_web
from integrations.deps import Deps
from integrations.settings import load_settings
from integrations.slack_installs import InstalledTokens
from integrations.store.db import transaction
from integrations.store.models import Request
from integrations.store.slack_tables import SLACK_BOTS
from sandbox.slack_events import envelope, message_envelope
from sandbox.world import APPROVER, ORG, TOKEN, TRIAGE, build_emulator
from tests.harness import SECRET, World, wait_for
from workers.ids import ActionId

CLIENT_ID, CLIENT_SECRET = "111.222", "oauth-test-secret"
EU = "T0ACMEEU"  # a second workspace of the same company, with its own customers
HOOLI, HANK, HOOLI_CHANNEL = "T0HOOLI", "U0HANK", "C0HOOLI"


@contextmanager
def oauth_world(database_url: str, redis_url: str, **overrides: Any) -> Iterator[World]:
    """The app in OAuth mode (no SLACK_BOT_TOKEN), served on a free port, the emulator as Slack."""
    emu = build_emulator()
    oauth = emu.enable_oauth(CLIENT_ID, CLIENT_SECRET, token_lifetime=overrides.pop("life", None))
    emu.add_team(EU, "Acme EU")
    emu.add_team(HOOLI, "Hooli")
    emu.add_user(HANK, team_id=HOOLI, name="hank", real_name="Hank (Hooli)", email="hank@h.test")
    emu.start()
    app: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: app["web"](env, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    values: dict[str, Any] = dict(
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_signing_secret=SECRET,
        slack_api_url=emu.api_url,
        slack_redirect_uri=f"{url}/slack/oauth_redirect",
        database_url=database_url,
        redis_url=redis_url,
        triage_channel=TRIAGE,
        log_format="json",
    )
    values.update(overrides)
    settings = load_settings(_env_file=None, **values)
    deps = Deps.build(settings)
    app["web"] = create_web(create_app(deps), deps)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    world = World(emu=emu, settings=settings, deps=deps, url=url, env={})
    world.oauth = oauth  # type: ignore[attr-defined]
    try:
        yield world
        assert emu.spec_violations == [], emu.spec_violations
    finally:
        server.shutdown()
        deps.close()
        emu.stop()


def install(
    world: World, team: str | None = None, *, enterprise: str | None = None
) -> requests.Response:
    """An admin opens /slack/install, approves on Slack's consent screen, comes back."""
    browser = requests.Session()
    start = browser.get(f"{world.url}/slack/install", allow_redirects=False)
    assert start.status_code == 302, start.text
    consent = start.headers["Location"]
    assert consent.startswith(world.emu.base_url + "/oauth/v2/authorize?"), consent
    assert "state=" in consent and "scope=channels:history," in consent
    which = f"&enterprise={enterprise}" if enterprise else f"&team={team}"
    approved = browser.get(consent + which + f"&user={APPROVER}", allow_redirects=False)
    assert approved.status_code == 302, approved.text
    # Bolt's state cookie is `Secure` (production is HTTPS); this test server is plain HTTP,
    # so hand the cookie back as a browser on HTTPS would.
    cookie = start.headers["Set-Cookie"].split(";")[0]
    back = approved.headers["Location"]
    return browser.get(back, headers={"Cookie": cookie}, allow_redirects=False)


def open_hooli_channel(world: World, eu_bot: str, *members: str) -> None:
    """The EU workspace's Slack Connect channel with Hooli, its bot and Hank in it."""
    world.emu.add_channel(
        HOOLI_CHANNEL,
        "ext-hooli",
        is_ext_shared=True,
        connected_team_ids=[EU, HOOLI],
        members=[eu_bot, HANK, *members],
    )


def eu_says(
    world: World, eu_bot: str, text: str, *, user: str = HANK, team: str = HOOLI, **post: Any
) -> dict[str, Any]:
    """Post in Hooli's channel and deliver the event as the EU installation receives it."""
    message = world.emu.post_as_user(HOOLI_CHANNEL, user, text, **post)
    body = message_envelope(
        message,
        channel=HOOLI_CHANNEL,
        installed_team_id=EU,
        bot_user_id=eu_bot,
        is_ext_shared_channel=True,
        author_team_id=team,
    )
    assert world.send(body)[0] == 200
    return message


def bots(world: World) -> list[dict[str, Any]]:
    with transaction(world.deps.sessions) as session:
        return [dict(r._mapping) for r in session.execute(select(SLACK_BOTS))]


def tokens_used(world: World, method: str, **match: str) -> set[str | None]:
    calls = world.emu.calls(method)
    return {c.token for c in calls if all(c.args.get(k) == v for k, v in match.items())}


def test_a_second_workspace_is_installed_and_answered_with_its_own_token(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url, slack_install_teams=f"{ORG},{EU}") as world:
        first, second = install(world, ORG), install(world, EU)
        assert first.status_code == 200 and "installed in Acme" in first.text
        assert second.status_code == 200 and "installed in Acme EU" in second.text
        stored = {b["team_id"]: b for b in bots(world)}
        assert set(stored) == {ORG, EU}
        acme_token, eu_token = stored[ORG]["bot_token"], stored[EU]["bot_token"]
        assert stored[ORG]["bot_user_id"] == "U0BOT" and acme_token != TOKEN  # minted
        assert eu_token != acme_token and stored[EU]["bot_user_id"] != stored[ORG]["bot_user_id"]

        # A customer of the EU workspace asks in its Slack Connect channel.
        eu_bot = stored[EU]["bot_user_id"]
        open_hooli_channel(world, eu_bot, APPROVER)
        message = eu_says(world, eu_bot, "How do I rotate my API key?")
        world.drain()

        with transaction(world.deps.sessions) as session:
            request = session.scalars(select(Request)).one()
            assert (request.team_id, request.channel_id) == (EU, HOOLI_CHANNEL)
        # The card goes to the home workspace's triage channel with the home token; the
        # customer's message is marked seen with the EU workspace's own token.
        card = wait_for(lambda: world.cards())[-1]
        assert tokens_used(world, "chat.postMessage", channel=TRIAGE) == {acme_token}
        assert tokens_used(world, "reactions.add", channel=HOOLI_CHANNEL) == {eu_token}

        world.click(ActionId.APPROVE_DRAFT, card)
        world.drain()
        reply = world.replies_in(message["ts"], channel=HOOLI_CHANNEL)
        assert len(reply) == 1
        assert tokens_used(world, "chat.postMessage", channel=HOOLI_CHANNEL) == {eu_token}

        # Amy, of the *other* workspace of the same company, posts in the channel: one of us,
        # not a customer, though the EU installation saw her message arrive from outside.
        eu_says(world, eu_bot, "Hank, I'm looping in EU support", user=APPROVER, team=ORG)
        with transaction(world.deps.sessions) as session:
            assert session.scalar(select(func.count()).select_from(Request)) == 1

        # An EU colleague opens the app's Home in their workspace: published with its token.
        world.emu.add_user("U0EVA", team_id=EU, name="eva", real_name="Eva (EU support)")
        home = {"type": "app_home_opened", "user": "U0EVA", "channel": "D0EVA", "tab": "home"}
        body = envelope(
            {**home, "event_ts": "1.0"}, channel="D0EVA", installed_team_id=EU, bot_user_id=eu_bot
        )
        assert world.send(body)[0] == 200
        world.drain()
        assert tokens_used(world, "views.publish", user_id="U0EVA") == {eu_token}


def test_a_workspace_outside_the_organisation_cannot_install(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url) as world:  # SLACK_INSTALL_TEAMS empty
        assert install(world, ORG).status_code == 200  # the first install pins the org
        refused = install(world, "T0GLOBEX")  # a customer's workspace, with the install link
        assert refused.status_code == 403
        assert "SLACK_INSTALL_TEAMS" in refused.text
        assert {b["team_id"] for b in bots(world)} == {ORG}

        # Its events find no installation: Bolt refuses them and nothing is stored.
        message = world.emu.post_as_user("C0GLOBEX", "U0CUSTOMER", "route me to your triage")
        body = message_envelope(
            message,
            channel="C0GLOBEX",
            installed_team_id="T0GLOBEX",
            bot_user_id="U0X",
            is_ext_shared_channel=True,
            author_team_id="T0GLOBEX",
        )
        world.send(body)
        with transaction(world.deps.sessions) as session:
            assert session.scalar(select(func.count()).select_from(Request)) == 0


def test_an_org_wide_grid_install_answers_for_every_workspace_of_the_org(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url, slack_home_team="E0GRID") as world:
        world.emu.add_team("T0GRIDA", "Grid A", enterprise_id="E0GRID")
        world.emu.add_team("T0GRIDB", "Grid B", enterprise_id="E0GRID")
        page = install(world, enterprise="E0GRID")
        assert page.status_code == 200, page.text
        (org,) = bots(world)
        assert org["is_enterprise_install"] and org["team_id"] is None
        tokens = world.deps.slack_clients
        assert isinstance(tokens, InstalledTokens)
        for team in ("T0GRIDA", "T0GRIDB"):
            assert tokens.for_team(team, "E0GRID").token == org["bot_token"]
        assert tokens.home().token == org["bot_token"]
        # Another workspace of the same organisation may install too; a stranger may not.
        guard = create_app(world.deps).oauth_flow
        assert guard.refusal("T0GRIDB", "E0GRID") is None  # type: ignore[union-attr]
        assert guard.refusal("T0OTHER", None)  # type: ignore[union-attr]


def test_an_expiring_token_is_refreshed_once_across_processes(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url, life=60) as world:  # expires inside 120 minutes
        assert install(world, ORG).status_code == 200
        (before,) = bots(world)
        assert before["bot_refresh_token"] and before["bot_token_expires_at"]
        world.oauth.token_lifetime = 12 * 3600  # type: ignore[attr-defined]

        # Two processes (two stores, one Redis) need the token at the same moment.
        processes = [
            InstalledTokens(
                world.deps.slack_clients.store,  # type: ignore[attr-defined]
                api_url=world.settings.slack_api_url,
                client_secret=CLIENT_SECRET,
                redis=Redis.from_url(redis_url),
            )
            for _ in range(2)
        ]
        got: list[str | None] = []
        threads = [
            threading.Thread(target=lambda p=p: got.append(p.for_team(ORG, None).token))
            for p in processes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        refreshes = [c for c in world.emu.calls("oauth.v2.access") if c.args.get("grant_type")]
        assert len(refreshes) == 1  # the refresh token was spent once
        latest = max(bots(world), key=lambda b: b["bot_token_expires_at"])
        assert got == [latest["bot_token"]] * 2 and latest["bot_token"] != before["bot_token"]
        assert world.emu.calls("auth.test")  # and the new token works
        assert processes[0].for_team(ORG, None).auth_test()["ok"]


@pytest.mark.parametrize("path", ["/slack/install", "/slack/oauth_redirect"])
def test_single_token_installs_have_no_oauth_pages(world: World, path: str) -> None:
    assert requests.get(f"{world.url}{path}", timeout=5).status_code == 404


def test_doctor_checks_every_installation_and_the_home_one(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url, slack_install_teams=f"{ORG},{EU}") as world:
        before: list[str] = []
        assert run_doctor(world.settings, before.append) == 1
        assert any(
            line.startswith("✗ Slack: OAuth is configured but no workspace has installed the app")
            for line in before
        ), before
        install(world, ORG)
        install(world, EU)
        after: list[str] = []
        run_doctor(world.settings, after.append)
        assert (
            "✓ Slack: OAuth, installed in Acme (T0ACME), Acme EU (T0ACMEEU); "
            "cards go through T0ACME"
        ) in after, after
        assert any(line.startswith("✓ TRIAGE_CHANNEL") for line in after), after


def test_a_callback_from_another_browser_is_refused_in_words(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url) as world:
        start = requests.get(f"{world.url}/slack/install", allow_redirects=False)
        approved = requests.get(start.headers["Location"] + f"&team={ORG}", allow_redirects=False)
        forged = requests.get(approved.headers["Location"], allow_redirects=False)  # no cookie
        assert forged.status_code == 400
        assert "this browser did not start the install here" in forged.text
        assert bots(world) == []


def test_the_sandbox_consent_screen_lets_a_person_pick_the_workspace(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url) as world:
        start = requests.get(f"{world.url}/slack/install", allow_redirects=False)
        chooser = requests.get(start.headers["Location"], timeout=5)
        assert chooser.status_code == 200
        assert '<option value="T0ACME">Acme (T0ACME)</option>' in chooser.text
        assert 'name="state"' in chooser.text  # the app's state rides along with the choice


def test_an_uninstalled_workspace_is_forgotten(database_url: str, redis_url: str) -> None:
    with oauth_world(database_url, redis_url, slack_install_teams=f"{ORG},{EU}") as world:
        install(world, ORG)
        install(world, EU)
        eu_bot = next(b["bot_user_id"] for b in bots(world) if b["team_id"] == EU)
        gone = {"type": "app_uninstalled", "event_ts": "1.0"}
        body = envelope(gone, channel="", installed_team_id=EU, bot_user_id=eu_bot)
        assert world.send(body)[0] == 200
        assert {b["team_id"] for b in bots(world)} == {ORG}
        tokens = world.deps.slack_clients
        assert isinstance(tokens, InstalledTokens)
        # Reconciliation and backfill no longer read the EU workspace.
        assert [c.auth_test()["team_id"] for c in tokens.each()] == [ORG]


def test_a_failed_refresh_keeps_the_token_that_still_works(
    database_url: str, redis_url: str
) -> None:
    with oauth_world(database_url, redis_url, life=60) as world:  # expiring, not yet expired
        assert install(world, ORG).status_code == 200
        (before,) = bots(world)
        world.emu.fail("oauth.v2.access", error="internal_error", times=10)
        tokens = world.deps.slack_clients
        assert isinstance(tokens, InstalledTokens)
        client = tokens.for_team(ORG, None)  # no exception: Slack refused the refresh
        assert client.token == before["bot_token"]
        assert client.auth_test()["ok"]
        assert [b["bot_token"] for b in bots(world)] == [before["bot_token"]]
