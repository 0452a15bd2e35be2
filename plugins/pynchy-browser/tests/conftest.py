"""Each test runs with its own PYNCHY_HOME. The podman tests share one browser image
(localhost/pynchy-browser:latest, built once per recipe and then reused: about a minute
the first time) and a web site of their own on the host's loopback (site.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pynchy_browser.config import BrowserConfig
from pynchy_browser.image import build_image
from site_server import Site

from pynchy_cli import testing

pynchy_home = testing.isolation_fixture("PYNCHY_BROWSER_")

# Read at import: the isolation fixture clears PYNCHY_* variables before each test.
REQUIRED = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"
DEFAULTS = BrowserConfig()


def _podman_problem() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed"
    if subprocess.run(["podman", "info"], capture_output=True).returncode != 0:
        return "podman does not work here"
    if shutil.which("slirp4netns") is None:  # how the browser reaches the tests' site
        return "slirp4netns is not installed (apt-get install slirp4netns)"
    exists = subprocess.run(["podman", "image", "exists", DEFAULTS.base], capture_output=True)
    if exists.returncode != 0:
        return f"the base image {DEFAULTS.base} is missing (pynchy agent image build makes it)"
    return None


@pytest.fixture(scope="session")
def browser_image() -> str:
    """The browser image, built unless the current one is there."""
    problem = _podman_problem()
    if problem:
        (pytest.fail if REQUIRED else pytest.skip)(problem)
    started = time.monotonic()
    took = build_image(DEFAULTS.engine, DEFAULTS.image, DEFAULTS.base, on_line=lambda _: None)
    if took is not None:
        print(f"\nbuilt {DEFAULTS.image} in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return DEFAULTS.image


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as served:
        yield served


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "groups" / "main"
    folder.mkdir(parents=True)
    return folder
