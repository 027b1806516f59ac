"""Every listener reaches Bolt named, with `deps` bound and only Bolt's own arguments left.

Bolt injects a listener's arguments by parameter name. `deps` bound by keyword instead of by
position would make every later parameter keyword-only, and Bolt would pass nothing: the
listener would fail on its first request. This reads what Bolt reads, for every listener.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.kwargs_injection.args import Args
from slack_bolt.util.utils import get_arg_names_of_callable, get_name_for_callable

from app.listeners import actions, commands, csat, escalate, events, incidents, views
from app.main import create_app
from tests.harness import offline_deps

BOLT_ARGUMENTS = set(inspect.signature(Args.__init__).parameters) - {"self"}


@pytest.fixture(scope="module")
def bolt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The app with every listener registered; nothing is served and nothing connects."""
    folder = tmp_path_factory.mktemp("wiring")
    with offline_deps(folder, slack_bot_token="xoxb-wiring-test") as deps:
        yield create_app(deps, token_verification=False)


def registered(app: App) -> list[Any]:
    return [
        f for listener in app._listeners for f in (listener.ack_function, *listener.lazy_functions)
    ]


def test_bolt_reads_every_parameter_of_every_listener_but_deps(bolt: App) -> None:
    needing_deps = 0
    for function in registered(bolt):
        target = getattr(function, "func", function)
        wanted = [name for name in inspect.signature(target).parameters if name != "deps"]
        needing_deps += len(wanted) < len(inspect.signature(target).parameters)
        # What Bolt will pass, by name: every parameter, and only parameters it knows.
        assert get_arg_names_of_callable(function) == wanted, get_name_for_callable(function)
        assert set(wanted) <= BOLT_ARGUMENTS, (get_name_for_callable(function), wanted)
    assert needing_deps >= 14  # the listeners that call a flow


def test_every_listener_is_a_top_level_function_found_by_its_name(bolt: App) -> None:
    modules = (actions, commands, csat, escalate, events, incidents, views)
    for function in registered(bolt):
        target = getattr(function, "func", function)
        name = get_name_for_callable(function)
        if target.__module__.startswith("slack_bolt"):
            continue  # Bolt's own token revocation listeners (OAuth)
        assert name == target.__name__ and "<locals>" not in target.__qualname__, name
        assert any(getattr(module, name, None) is target for module in modules), name
