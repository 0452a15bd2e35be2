"""The agent image: its build context and source hash, and the real image built by podman."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pynchy_cli.cli.agent_image import app as image_app
from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.runtimes.detect import EngineSocket, find_engine
from pynchy_cli.core.runtimes.engine_cli import engine_command
from pynchy_cli.core.runtimes.image_build import build_image, image_source_hash, image_status
from pynchy_cli.core.runtimes.images import (
    agent_package_dir,
    context_hash,
    expected_source_hash,
    prepare_context,
)

REPO = Path(__file__).resolve().parent.parent
TAG = Settings.model_fields["image"].default
# scripts/test sets this after it started podman and built the image: then a missing podman
# is a failure, not a reason to skip. Read at import, before conftest scrubs PYNCHY_*.
REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"

THIRD_PARTY = ["anthropic", "openai", "docker", "podman", "ray", "pyinfra", "pydantic", "typer"]


# --- the build context (no engine needed) ------------------------------------------------


def test_context_layout(tmp_path: Path) -> None:
    digest = prepare_context(tmp_path / "ctx")
    ctx = tmp_path / "ctx"
    assert (ctx / "Containerfile").read_text().count("FROM ${BASE}") == 1
    root = ctx / "opt" / "pynchy"
    assert (root / "pynchy_cli" / "__init__.py").read_bytes() == b""
    assert (root / "pynchy_cli" / "protocol.py").read_bytes() == (
        REPO / "pynchy_cli" / "protocol.py"
    ).read_bytes()
    assert sorted(p.name for p in (root / "pynchy_cli").iterdir()) == ["__init__.py", "protocol.py"]
    assert (root / "pynchy_agent" / "__main__.py").is_file()
    assert not [p for p in root.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert digest == context_hash(ctx) == expected_source_hash()


def test_hash_changes_with_agent_sources(tmp_path: Path) -> None:
    agent = tmp_path / "pynchy_agent"
    shutil.copytree(agent_package_dir(), agent)
    first = prepare_context(tmp_path / "a", agent_dir=agent)
    assert first == expected_source_hash()

    # Bytecode caches are not sources: they change nothing.
    (agent / "__pycache__").mkdir(exist_ok=True)
    (agent / "__pycache__" / "junk.cpython-311.pyc").write_bytes(b"\0")
    assert prepare_context(tmp_path / "b", agent_dir=agent) == first

    main = agent / "__main__.py"
    main.write_text(main.read_text() + "\n# changed\n")
    changed = prepare_context(tmp_path / "c", agent_dir=agent)
    assert changed != first

    (agent / "extra.py").write_text("")
    assert prepare_context(tmp_path / "d", agent_dir=agent) not in (first, changed)


def test_setup_podman_keeps_other_settings(tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    original = (
        '# mine\n[network]\nnetwork_backend = "netavark"\n\n'
        '[engine]\nruntime = "crun"\nevents_logger = "file"\n'
    )
    conf.write_text(original)
    env = {**os.environ, "PYNCHY_CONTAINERS_CONF": str(conf)}
    script = REPO / "scripts" / "setup-podman"
    subprocess.run(["bash", str(script), "--config-only"], env=env, check=True)
    text = conf.read_text()
    assert "# mine" in text and 'network_backend = "netavark"' in text
    assert 'events_logger = "file"' in text
    assert 'runtime = "runc"' in text and "crun" not in text
    assert 'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]' in text
    assert (tmp_path / "containers.conf.pynchy-backup").read_text() == original

    subprocess.run(["bash", str(script), "--config-only"], env=env, check=True)
    assert conf.read_text() == text  # a second run changes nothing


# --- the real image --------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine() -> EngineSocket:
    try:
        found = find_engine(want="podman")
    except UnavailableError as exc:
        if REQUIRE_PODMAN:
            pytest.fail(f"podman is required here: {exc.line()}")
        pytest.skip(f"no podman service ({exc.message}); run scripts/setup-podman")
    return found


@pytest.fixture(scope="session")
def image(engine: EngineSocket) -> str:
    """The agent image, built now if scripts/test has not already built it."""
    build_image(engine, TAG)
    return TAG


def run_in_image(engine: EngineSocket, image: str, *args: str) -> subprocess.CompletedProcess:
    argv = [*engine_command(engine), "run", "--rm", "--network", "none", image, *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@pytest.mark.podman
def test_runs_as_agent_without_network(engine: EngineSocket, image: str) -> None:
    script = (
        "import json, os, sys; print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), "
        "'cwd': os.getcwd(), 'nets': sorted(os.listdir('/sys/class/net')), "
        "'path': os.environ.get('PYTHONPATH'), 'nobytecode': sys.dont_write_bytecode}))"
    )
    done = run_in_image(engine, image, "python3", "-c", script)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts == {
        "uid": 1000,
        "gid": 1000,
        "cwd": "/workspace",
        "nets": ["lo"],
        "path": "/opt/pynchy",
        "nobytecode": True,
    }


@pytest.mark.podman
def test_carries_only_the_container_side(engine: EngineSocket, image: str) -> None:
    script = (
        "import importlib.util, json, os, pynchy_agent, pynchy_cli, pynchy_cli.protocol\n"
        f"names = {THIRD_PARTY!r}\n"
        "print(json.dumps({\n"
        "  'importable': [n for n in names if importlib.util.find_spec(n)],\n"
        "  'init_size': os.path.getsize(pynchy_cli.__file__),\n"
        "  'init_path': pynchy_cli.__file__,\n"
        "  'pynchy_cli': sorted(os.listdir(os.path.dirname(pynchy_cli.__file__))),\n"
        "  'agent': pynchy_agent.__file__,\n"
        "}))"
    )
    done = run_in_image(engine, image, "python3", "-c", script)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["importable"] == []
    assert facts["init_path"] == "/opt/pynchy/pynchy_cli/__init__.py"
    assert facts["init_size"] == 0
    # the two sources and their bytecode, compiled at build time (the agent cannot write it)
    assert facts["pynchy_cli"] == ["__init__.py", "__pycache__", "protocol.py"]
    assert facts["agent"] == "/opt/pynchy/pynchy_agent/__init__.py"

    check = "git --version && ps -p 1 >/dev/null && echo ok"
    tools = run_in_image(engine, image, "sh", "-c", check)
    assert tools.returncode == 0 and tools.stdout.strip().endswith("ok"), tools.stderr


@pytest.mark.podman
def test_second_build_is_skipped(engine: EngineSocket, image: str) -> None:
    lines: list[str] = []
    result = build_image(engine, image, on_line=lines.append)
    assert result.built is False
    assert result.source_hash == expected_source_hash() == image_source_hash(engine, image)
    assert lines == []  # nothing was run

    status = image_status(engine, image)
    assert status.present and status.up_to_date
    assert status.size and status.size > 0


@pytest.mark.podman
def test_status_command(engine: EngineSocket, image: str) -> None:
    done = CliRunner().invoke(image_app, ["status", "--json", "--tag", image])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["tag"] == image
    assert data["present"] is True and data["up_to_date"] is True
    assert data["source_hash"] == expected_source_hash()


@pytest.mark.podman
def test_status_of_a_missing_image(engine: EngineSocket) -> None:
    done = CliRunner().invoke(image_app, ["status", "--json", "--tag", "localhost/pynchy-nope:x"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["present"] is False and data["up_to_date"] is False
