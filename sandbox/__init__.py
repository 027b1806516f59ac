"""Developer tools: a local Slack Web API emulator that is also the tests' fake Slack.

``sandbox.slack_emulator.SlackEmulator`` serves the Web API over HTTP; ``sandbox.slack_events``
builds and delivers signed Events API / interactivity requests the way Slack sends them.
"""

from __future__ import annotations

from sandbox.slack_emulator import Call, SlackEmulator
from sandbox.slack_state import SlackError

__all__ = ["Call", "SlackEmulator", "SlackError"]
