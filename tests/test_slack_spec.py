"""The emulator's committed method table is what Slack's published spec says."""

from __future__ import annotations

import json

import pytest

from sandbox.slack_spec import METHODS_FILE
from sandbox.tools.extract_slack_methods import extract_methods
from tests.harness import REPO

SPEC = REPO.parent / "shared" / "specs" / "slack" / "slack_web_openapi_v2.json"


@pytest.mark.skipif(not SPEC.exists(), reason="Slack's spec lives in shared/, beside the clone")
def test_committed_method_table_matches_slacks_spec() -> None:
    spec = json.loads(SPEC.read_text())
    assert extract_methods(spec) == json.loads(METHODS_FILE.read_text())
