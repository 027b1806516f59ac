"""The house rules: imports only go down, and importing the product builds nothing.

`app` (the Slack face and the CLI) may import `workers` (stages and flows) and `integrations`
(adapters, settings, the store); `workers` may import `integrations` only; nothing imports
upward and no package has an import cycle. import-linter holds that (`[tool.importlinter]` in
pyproject.toml); this test runs it so a broken layer fails the suite too, not only `.ci/run`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Imports every module of the product in a process with an empty environment, with every socket
# refusing to connect and settings refusing to be read: a module that builds a client, an engine,
# a queue or Settings when imported fails here.
_IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, pkgutil, socket, sys

    def refuse_connect(self, *args, **kwargs):
        raise AssertionError(f"a module connected at import time: {args}")

    socket.socket.connect = refuse_connect
    socket.socket.connect_ex = refuse_connect
    socket.create_connection = refuse_connect

    import pydantic_settings

    def refuse_settings(self, *args, **kwargs):
        raise AssertionError(f"a module read {type(self).__name__} at import time")

    pydantic_settings.BaseSettings.__init__ = refuse_settings

    names = []
    for package in ("integrations", "workers", "app"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
            if ".migrations" in info.name:  # Alembic's env.py runs only under Alembic
                continue
            importlib.import_module(info.name)
            names.append(info.name)
    print(len(names))
    """
)


def test_importing_every_module_builds_nothing_from_the_environment(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING],
        cwd=tmp_path,  # no .env file here for settings to find
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 60  # every module was imported, not an empty walk
    assert list(tmp_path.iterdir()) == []  # and none wrote a file (a SQLite database, a log)


def test_imports_only_go_down_and_never_in_a_circle() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is in the dev extra: pip install -e '.[dev]'"
    result = subprocess.run(
        [lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
