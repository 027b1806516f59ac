"""The product as the Dockerfile installs it: from a built wheel, not from the checkout.

An editable install (what the tests use) reads every file from the repository, so a file the
product needs at run time but the wheel does not carry (package data) goes unnoticed until
`pip install .` — in Docker, or anywhere else. Here the wheel is built from exactly what the
Dockerfile copies into the image, installed into a fresh virtual environment, and `triage demo`
runs from it in an empty folder, with nothing of the checkout importable.

To stay fast and offline, the fresh environment installs only our wheel (`--no-deps`) and
finds the dependencies through a `.pth` line naming this environment's site-packages. A path
line in a `.pth` file does not run that folder's own `.pth` files, so the editable install of
the checkout living there stays inactive; a check below makes sure.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.harness import REPO

pytestmark = pytest.mark.slow


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """The Dockerfile's `COPY <source>... <destination>` lines (build context → WORKDIR)."""
    copies = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        words = shlex.split(line)
        if words and words[0].upper() == "COPY":
            assert not any(w.startswith("--") for w in words[1:]), f"unexpected flags: {line}"
            copies.append((words[1:-1], words[-1]))
    assert copies, "the Dockerfile copies nothing?"
    return copies


def build_context(into: Path) -> Path:
    """What the image's WORKDIR holds before `pip install .`: the Dockerfile's COPY lines."""
    for sources, destination in dockerfile_copies():
        for source in sources:
            src = REPO / source
            dest = into / destination
            if destination.endswith("/") or len(sources) > 1:
                dest = dest / src.name
            if src.is_dir():
                shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
    return into


def build_wheel(source: Path, into: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(into), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = into.glob("slack_triage-*.whl")
    return wheel


def fresh_env(root: Path, wheel: Path) -> Path:
    """A new virtual environment with our wheel installed; dependencies from this one."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_triage_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    result = subprocess.run(
        [*pip, "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "bin"


def clean_env(bin_dir: Path) -> dict[str, str]:
    """No PYTHONPATH, no settings of ours from the caller's environment: a stranger's shell."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "SLACK_", "DATABASE_", "REDIS_"))
        and not k.startswith(("TRIAGE_", "OPENAI_", "SALESFORCE_", "PROMETHEUS_"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there: the demo needs no Redis
    env["COLUMNS"] = "200"
    return env


def compose_commands() -> list[list[str]]:
    """Every `triage ...` command docker-compose.yml runs, and the Dockerfile's CMD."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    commands = [
        service["command"]
        for service in compose["services"].values()
        if service.get("command") and service["command"][0] == "triage"
    ]
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            commands.append(yaml.safe_load(line[4:]))
    return commands


def test_the_installed_wheel_plays_the_demo_and_runs_the_compose_commands(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(build_context(tmp_path / "context"), tmp_path / "dist")
    bin_dir = fresh_env(tmp_path / "venv", wheel)
    env = clean_env(bin_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    imported = "import app, sandbox; print(app.__file__, sandbox.__file__)"
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", imported],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(path.startswith(str(tmp_path / "venv")) for path in where), where

    demo = subprocess.run(
        [str(bin_dir / "triage"), "demo"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "Every step happened" in demo.stdout
    assert (elsewhere / "demo-transcript.html").is_file()

    commands = compose_commands()
    assert {tuple(c[:2]) for c in commands} >= {("triage", "serve"), ("triage", "worker")}
    for command in commands:
        # --help is eager: it checks the subcommand and every option given before it exist.
        ran = subprocess.run(
            [str(bin_dir / "triage"), *command[1:], "--help"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, f"{command}: {ran.stdout[-2000:]}{ran.stderr[-2000:]}"
