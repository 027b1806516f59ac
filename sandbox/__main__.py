"""``python -m sandbox``: run the Slack emulator standalone (developer tool).

Starts a ``SlackEmulator`` with a small demo world (a customer org, an account manager and a
Slack Connect channel) and prints the ``SLACK_API_URL`` to point the app at.
``SLACK_EMULATOR_LIMITS=F`` (or ``--limits F``) enforces Slack's rate limits at F times Slack's
rates (``sandbox.slack_limits``).
"""

from __future__ import annotations

import argparse
import time

from sandbox import slack_limits
from sandbox.slack_emulator import SlackEmulator


def main(argv: list[str] | None = None) -> int:
    """Run a standalone emulator with a small demo world until interrupted."""
    parser = argparse.ArgumentParser(description="Local Slack Web API emulator")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--event-url", default=None, help="echo bot messages as events here")
    parser.add_argument("--signing-secret", default=None)
    parser.add_argument("--lenient", action="store_true", help="record spec violations only")
    parser.add_argument(
        "--limits",
        default=None,
        metavar="F",
        help=f"enforce Slack's rate limits, F times faster (default: ${slack_limits.LIMITS_ENV})",
    )
    options = parser.parse_args(argv)
    try:
        given = None if options.limits is None else {slack_limits.LIMITS_ENV: options.limits}
        limits = slack_limits.from_env(given)  # one parser for the flag and the variable
    except ValueError as error:
        parser.error(str(error))
    emu = SlackEmulator(
        port=options.port,
        strict=not options.lenient,
        event_url=options.event_url,
        signing_secret=options.signing_secret,
        limits=limits,
    )
    emu.add_team("T0CUST", "Customer Co")
    emu.add_user("U0AM", team_id=emu.team_id, name="am", real_name="Account Manager")
    emu.add_user("W0CUST", team_id="T0CUST", name="customer", real_name="Casey Customer")
    emu.add_channel("C0SHARED", "ext-customer-co", is_ext_shared=True)
    with emu:
        limited = f" rate limits x{limits:g}" if limits is not None else ""
        print(
            f"Slack emulator: SLACK_API_URL={emu.api_url} token={emu.bot_token}{limited}",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
