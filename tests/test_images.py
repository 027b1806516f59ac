"""Screenshots reach the model (SPEC §5.1, §5.4): downloaded from the emulator's `url_private`
with the request workspace's bot token, sent as data-URL image parts in the final user turn,
bounded, and never blocking the draft; the card names every image the model did not see."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import requests

from integrations.slack_files import FileUnavailable, download_private
from sandbox.openai_server import OpenAIServer, sent_images
from tests.harness import SHARED, TOKEN, World, model_world, start_world
from tests.test_oauth import EU, eu_says, install, oauth_world, open_hooli_channel
from workers.attachments import MAX_IMAGE_BYTES, MAX_IMAGES


def png(shade: int = 0, size: int = 2) -> bytes:
    """A real PNG, `size` pixels square, of one grey `shade` (distinct bytes per shade)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + bytes([shade % 256] * 3 * size) for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return (
        signature
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def image(name: str, content: bytes, mimetype: str = "image/png", **extra: Any) -> dict[str, Any]:
    return {"name": name, "mimetype": mimetype, "content": content, **extra}


def with_model(
    database_url: str, redis_url: str, model: OpenAIServer, **overrides: Any
) -> AbstractContextManager[World]:
    return model_world(database_url, redis_url, model.base_url, **overrides)


@pytest.fixture
def world(database_url: str, redis_url: str, model: OpenAIServer) -> Iterator[World]:
    with with_model(database_url, redis_url, model) as w:
        yield w


def drafts(model: OpenAIServer) -> list[dict[str, Any]]:
    return [
        r for r in model.requests() if r["response_format"]["json_schema"]["name"] == "TriagedDraft"
    ]


def card_text(world: World) -> str:
    [card] = world.cards()
    return json.dumps(card["blocks"], ensure_ascii=False)


def test_a_screenshot_reaches_the_model_in_the_final_user_turn(
    world: World, model: OpenAIServer
) -> None:
    shot, logs = png(7), b"ERROR 42: export failed\n"
    world.customer_says(
        "The export page shows this error since this morning",
        files=[image("error.png", shot), image("export.log", logs, "text/plain")],
    )
    world.drain()

    [request] = drafts(model)
    last = len(request["messages"]) - 1
    [sent] = sent_images(request)
    assert (sent.message, sent.role, sent.mimetype, sent.data) == (last, "user", "image/png", shot)
    # Next to the fenced customer text; the other file is named, typed, fenced, never read.
    parts = request["messages"][last]["content"]
    text = "\n".join(p["text"] for p in parts if p["type"] == "text")
    assert "<<<DATA customer-message-1 " in text and "since this morning" in text
    listing = text.split("<<<DATA customer-files ", 1)[1].split("<<<END customer-files", 1)[0]
    assert "1. error.png (image/png)" in listing and "2. export.log (text/plain)" in listing
    assert "export failed" not in json.dumps(model.requests())
    assert all(isinstance(m["content"], str) for m in request["messages"][:last])
    assert [len(sent_images(r)) for r in model.requests()] == [1]  # one call triages and drafts

    # Downloaded once, with the bot token; the card says the model saw it, and flags nothing.
    assert [(d.token, d.status) for d in world.emu.downloads()] == [(TOKEN, 200)]
    text = card_text(world)
    assert "it saw error.png" in text and "I can see the 1 image(s)" in text
    assert "did not see" not in text and "📎 2 file(s): error.png, export.log" in text


def test_a_too_large_image_is_skipped_and_the_card_names_it(
    world: World, model: OpenAIServer
) -> None:
    big = png(1) + bytes(MAX_IMAGE_BYTES)
    world.customer_says(
        "Two screenshots of the broken chart",
        files=[image("huge.png", big), image("small.png", png(2))],
    )
    world.drain()
    [request] = drafts(model)
    assert [i.data for i in sent_images(request)] == [png(2)]
    assert len(world.emu.downloads()) == 1  # the large one was never fetched
    text = card_text(world)
    assert "Drafted by gpt-4o-mini" in text
    assert "the model did not see huge.png (it is larger than 4 MB)" in text


@pytest.mark.parametrize("status", [404, 500])
def test_a_failed_download_still_drafts_and_the_card_names_the_file(
    world: World, model: OpenAIServer, status: int
) -> None:
    world.emu.fail_download(status)
    world.customer_says("Login fails with this", files=[image("login.png", png(3))])
    world.drain()
    [request] = drafts(model)
    assert sent_images(request) == []
    assert isinstance(request["messages"][-1]["content"], str)  # named, not shown
    assert "login.png (image/png)" in request["messages"][-1]["content"]
    text = card_text(world)
    assert "Drafted by gpt-4o-mini" in text
    assert f"the model did not see login.png (Slack answered HTTP {status})" in text


def test_at_most_the_limit_of_images_are_sent(world: World, model: OpenAIServer) -> None:
    shots = [image(f"step-{n}.png", png(10 + n)) for n in range(MAX_IMAGES + 1)]
    world.customer_says("Every step of the wizard fails", files=shots)
    world.drain()
    [request] = drafts(model)
    assert [i.data for i in sent_images(request)] == [png(10 + n) for n in range(MAX_IMAGES)]
    assert f"did not see step-{MAX_IMAGES}.png (only the first {MAX_IMAGES}" in card_text(world)


def test_model_reads_images_false_sends_no_image(
    database_url: str, redis_url: str, model: OpenAIServer
) -> None:
    with with_model(database_url, redis_url, model, model_reads_images=False) as world:
        world.customer_says("Here is our card on file", files=[image("card.png", png(4))])
        world.drain()
        [request] = drafts(model)
        assert sent_images(request) == [] and "image_url" not in json.dumps(model.requests())
        assert "card.png (image/png)" in request["messages"][-1]["content"]
        assert world.emu.downloads() == []
        assert "did not see card.png (MODEL_READS_IMAGES is off)" in card_text(world)


def test_the_offline_drafter_ignores_images_and_the_card_does_not_mention_them(
    database_url: str, redis_url: str
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url) as world:  # no model
        world.customer_says("See attached: why is this empty?", files=[image("a.png", png(5))])
        world.drain()
        assert world.emu.downloads() == []
        text = card_text(world)
        assert "Offline draft" in text and "did not see" not in text and "a.png" in text


def test_a_model_that_takes_no_images_drafts_without_them(
    database_url: str, redis_url: str
) -> None:
    with (
        OpenAIServer(vision=False) as text_only,
        with_model(database_url, redis_url, text_only) as world,
    ):
        world.customer_says("What is this dialog?", files=[image("dialog.png", png(6))])
        world.drain()
        first, second = drafts(text_only)
        assert len(sent_images(first)) == 1 and sent_images(second) == []
        text = card_text(world)
        assert "Drafted by gpt-4o-mini" in text
        assert "did not see dialog.png (the model refused images: OpenAI answered HTTP 400)" in text


def test_a_slack_connect_file_stub_is_described_with_files_info(
    world: World, model: OpenAIServer
) -> None:
    shot = png(8)
    body = world.customer_says(
        "From our side of the channel",
        files=[image("connect.png", shot, file_access="check_file_info")],
    )
    assert set(body["event"]["files"][0]) >= {"id", "file_access"}
    assert "url_private" not in body["event"]["files"][0]
    world.drain()
    [request] = drafts(model)
    assert [i.data for i in sent_images(request)] == [shot]
    assert [c.args["file"] for c in world.emu.calls("files.info")] == [
        body["event"]["files"][0]["id"]
    ]
    assert "connect.png (image/png)" in json.dumps(request["messages"][-1])


def test_the_download_uses_the_request_workspaces_token(
    database_url: str, redis_url: str, model: OpenAIServer
) -> None:
    from tests.test_oauth import bots

    overrides = dict(openai_api_key="sk-test", openai_base_url=model.base_url)
    with oauth_world(
        database_url, redis_url, slack_install_teams=f"T0ACME,{EU}", **overrides
    ) as world:
        install(world, "T0ACME")
        install(world, EU)
        tokens = {b["team_id"]: b["bot_token"] for b in bots(world)}
        eu_bot = next(b["bot_user_id"] for b in bots(world) if b["team_id"] == EU)
        open_hooli_channel(world, eu_bot)
        shot = png(9)
        eu_says(world, eu_bot, "Our SSO page looks like this", files=[image("sso.png", shot)])
        world.drain()
        assert [(d.token, d.status) for d in world.emu.downloads()] == [(tokens[EU], 200)]
        [request] = drafts(model)
        assert [i.data for i in sent_images(request)] == [shot]


def test_the_emulator_serves_files_only_with_a_token_that_can_see_them(world: World) -> None:
    message = world.emu.post_as_user(SHARED, "U0CUSTOMER", "", files=[image("x.png", png())])
    url = message["files"][0]["url_private"]
    assert url.startswith(f"{world.emu.base_url}/files-pri/T0GLOBEX-F")
    anonymous = requests.get(url, allow_redirects=False, timeout=5)
    assert anonymous.status_code == 302 and "/signin?redir=" in anonymous.headers["Location"]
    followed = requests.get(url, timeout=5)  # like a browser: Slack's sign-in page
    assert followed.status_code == 200 and "text/html" in followed.headers["Content-Type"]
    ok = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert ok.content == png() and ok.headers["Content-Type"] == "image/png"

    api = world.settings.slack_api_url
    assert download_private(url, token=TOKEN, api_url=api, max_bytes=10**6, timeout=5)[0] == png()
    with pytest.raises(FileUnavailable, match="refused the app's token"):
        download_private(url, token="xoxb-wrong", api_url=api, max_bytes=10**6, timeout=5)
    with pytest.raises(FileUnavailable, match="larger than"):
        download_private(url, token=TOKEN, api_url=api, max_bytes=10, timeout=5)
    world.emu.fail_download(200, delay=1.0)  # slower than the deadline
    with pytest.raises(FileUnavailable, match=r"took longer than 0\.3 s"):
        download_private(url, token=TOKEN, api_url=api, max_bytes=10**6, timeout=0.3)
    with pytest.raises(FileUnavailable, match="not on Slack"):
        download_private(
            "https://example.com/x.png", token=TOKEN, api_url=api, max_bytes=10**6, timeout=5
        )


def test_the_card_names_a_slack_connect_file_even_without_a_model(
    database_url: str, redis_url: str
) -> None:
    with start_world(database_url=database_url, redis_url=redis_url) as world:  # no model
        world.customer_says(
            "Here is the log",
            files=[image("sync.log", b"ERROR", "text/plain", file_access="check_file_info")],
        )
        world.drain()
        assert "sync.log" in card_text(world)
        assert world.emu.calls("files.info") and world.emu.downloads() == []
