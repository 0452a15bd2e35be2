"""The agent image's recipe: its build context, the source hash over it, and its labels.

The image carries the container side only: python3's standard library, `pynchy_agent` and
`pynchy_cli.protocol` (under an empty `pynchy_cli/__init__.py`, so nothing else of the host
package comes along). Every image is labelled with the sha256 of its build context
(`pynchy.source-hash`), so a build is skipped while the sources are unchanged and a runtime
can tell that an image is stale. Building it is image_build.py's job.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pynchy_cli
from pynchy_cli.core.errors import NotFoundError

HASH_LABEL = "pynchy.source-hash"
BASE_LABEL = "pynchy.base"
CONTAINERFILE = "Containerfile"
BUILD_BASE_SCRIPT = "build-base.sh"
_SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def container_dir() -> Path:
    """The folder holding the Containerfile and build-base.sh.

    In a wheel they are packaged as pynchy_cli/_container/; in a source checkout (editable
    install) they are the repository's container/ folder.
    """
    package = Path(pynchy_cli.__file__).resolve().parent
    for candidate in (package / "_container", package.parent / "container"):
        if (candidate / CONTAINERFILE).is_file():
            return candidate
    raise NotFoundError(
        "the agent image's Containerfile is missing from this installation",
        "Reinstall pynchy (pip install --force-reinstall pynchy)",
    )


def agent_package_dir() -> Path:
    """The folder of the `pynchy_agent` package that runs inside the container."""
    import pynchy_agent

    return Path(pynchy_agent.__file__).resolve().parent


def _copy_file(src: Path | None, dest: Path, data: bytes = b"") -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.parent.chmod(0o755)
    dest.write_bytes(src.read_bytes() if src is not None else data)
    dest.chmod(0o644)


def _copy_tree(src: Path, dest: Path) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in _SKIP_NAMES or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES:
            _copy_file(path, dest / rel)


def prepare_context(dest: Path, *, agent_dir: Path | None = None) -> str:
    """Write the image's build context into dest and return its source hash.

    dest gets Containerfile and opt/pynchy/{pynchy_cli/__init__.py (empty),
    pynchy_cli/protocol.py, pynchy_agent/...}; earlier copies of those are replaced.
    agent_dir overrides where pynchy_agent is copied from (default: the installed package).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest / "opt", ignore_errors=True)
    root = dest / "opt" / "pynchy"
    _copy_file(container_dir() / CONTAINERFILE, dest / CONTAINERFILE)
    _copy_file(None, root / "pynchy_cli" / "__init__.py")
    protocol = Path(pynchy_cli.__file__).resolve().parent / "protocol.py"
    if not protocol.is_file():
        raise NotFoundError(
            f"{protocol} is missing", "Reinstall pynchy (pip install --force-reinstall pynchy)"
        )
    _copy_file(protocol, root / "pynchy_cli" / "protocol.py")
    _copy_tree(agent_dir or agent_package_dir(), root / "pynchy_agent")
    return context_hash(dest)


def context_hash(context: Path) -> str:
    """sha256 over the paths and contents of a prepared build context."""
    context = Path(context)
    files = [context / CONTAINERFILE, *sorted((context / "opt").rglob("*"))]
    digest = hashlib.sha256()
    for path in files:
        if not path.is_file():
            continue
        rel = path.relative_to(context).as_posix()
        digest.update(rel.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def expected_source_hash() -> str:
    """The source hash an image built from this installation would carry."""
    with tempfile.TemporaryDirectory(prefix="pynchy-context-") as tmp:
        return prepare_context(Path(tmp))
