"""Slack-facing side of the triage assistant: settings, the Bolt app, listeners, views, CLI."""
