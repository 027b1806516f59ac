"""Extract the Web API method table the Slack emulator checks calls against.

Developer tool. Reads Slack's (stale, 2020) Swagger 2.0 description of the Web API and writes
``sandbox/slack_web_methods.json``::

    {"chat.postMessage": {"http_method": "post", "params": [...], "required": [...]}, ...}

Only ``in: formData`` / ``in: query`` parameters are kept; the ``token`` parameter (and the
``Authorization`` header it stands for) is dropped because the emulator handles auth itself.
The output is committed so the app and the tests never need the spec at runtime.

Usage (from the repository root)::

    python -m sandbox.tools.extract_slack_methods [SPEC_PATH] [--output PATH]

Newer methods/arguments the spec does not know live in ``sandbox/slack_spec.py``
(``NEWER_THAN_SPEC``), not here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "specs" / "slack" / "slack_web_openapi_v2.json"
DEFAULT_OUTPUT = REPO_ROOT / "sandbox" / "slack_web_methods.json"
_PARAM_LOCATIONS = {"formData", "query"}
_IGNORED_PARAMS = {"token"}


def extract_methods(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return ``{method: {"http_method", "params", "required"}}`` from a Swagger 2.0 spec dict."""
    methods: dict[str, dict[str, Any]] = {}
    for path, operations in sorted(spec.get("paths", {}).items()):
        name = path.lstrip("/")
        for http_method, operation in sorted(operations.items()):
            params: list[str] = []
            required: list[str] = []
            for param in operation.get("parameters", []):
                param_name = param.get("name")
                if param.get("in") not in _PARAM_LOCATIONS or param_name in _IGNORED_PARAMS:
                    continue
                if param_name not in params:
                    params.append(param_name)
                if param.get("required") and param_name not in required:
                    required.append(param_name)
            methods[name] = {
                "http_method": http_method.lower(),
                "params": sorted(params),
                "required": sorted(required),
            }
    return methods


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: extract the method table and write it as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    options = parser.parse_args(argv)
    spec = json.loads(options.spec.read_text(encoding="utf-8"))
    methods = extract_methods(spec)
    text = json.dumps(methods, indent=1, sort_keys=True) + "\n"
    options.output.write_text(text, encoding="utf-8")
    print(f"wrote {len(methods)} methods to {options.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
