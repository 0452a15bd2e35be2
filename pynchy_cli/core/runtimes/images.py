"""The agent image: its build context, its source hash, building it and asking about it.

The image carries the container side only: python3's standard library, `pynchy_agent` and
`pynchy_cli.protocol` (under an empty `pynchy_cli/__init__.py`, so nothing else of the host
package comes along). Every image is labelled with the sha256 of its build context
(`pynchy.source-hash`), so a build is skipped while the sources are unchanged and a runtime
can tell that an image is stale.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pynchy_cli
from pynchy_cli.core.errors import NotFoundError, PynchyError
from pynchy_cli.core.runtimes.detect import EngineSocket, find_engine
from pynchy_cli.core.runtimes.engine_cli import OnLine, engine_command, run_streaming

if TYPE_CHECKING:
    import docker

HASH_LABEL = "pynchy.source-hash"
BASE_LABEL = "pynchy.base"
CONTAINERFILE = "Containerfile"
BUILD_BASE_SCRIPT = "build-base.sh"
_SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


def engine_client(engine: EngineSocket) -> docker.DockerClient:
    """A Docker-API client; podman's service speaks the same API on its socket."""
    import docker  # imported on use: it costs every pynchy command ~0.15 s otherwise

    return docker.DockerClient(base_url=engine.url, timeout=60)


def image_exists(engine: EngineSocket, image: str) -> bool:
    from docker.errors import ImageNotFound

    client = engine_client(engine)
    try:
        client.images.get(image)
        return True
    except ImageNotFound:
        return False
    finally:
        client.close()


def inspect_image(engine: EngineSocket, image: str) -> dict[str, Any] | None:
    """The engine's inspect data for an image, or None if there is no such image."""
    from docker.errors import ImageNotFound

    client = engine_client(engine)
    try:
        return client.images.get(image).attrs
    except ImageNotFound:
        return None
    finally:
        client.close()


def _labels(attrs: dict[str, Any] | None) -> dict[str, str]:
    if not attrs:
        return {}
    return (attrs.get("Config") or {}).get("Labels") or {}


# --- the build context -------------------------------------------------------------------


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


def image_source_hash(engine: EngineSocket, tag: str) -> str | None:
    """The source hash the image `tag` was built from; None if absent or unlabelled."""
    return _labels(inspect_image(engine, tag)).get(HASH_LABEL)


# --- status ------------------------------------------------------------------------------


@dataclass
class ImageStatus:
    tag: str
    present: bool
    up_to_date: bool
    source_hash: str | None  # the image's label
    expected_hash: str  # what this installation would build
    base: str | None = None
    size: int | None = None  # bytes
    id: str | None = None
    created: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "present": self.present,
            "up_to_date": self.up_to_date,
            "size": self.size,
            "base": self.base,
            "id": self.id,
            "created": self.created,
            "source_hash": self.source_hash,
            "expected_hash": self.expected_hash,
        }


def image_status(engine: EngineSocket, tag: str) -> ImageStatus:
    attrs = inspect_image(engine, tag)
    expected = expected_source_hash()
    if attrs is None:
        return ImageStatus(tag, False, False, None, expected)
    labels = _labels(attrs)
    source = labels.get(HASH_LABEL)
    return ImageStatus(
        tag=tag,
        present=True,
        up_to_date=source == expected,
        source_hash=source,
        expected_hash=expected,
        base=labels.get(BASE_LABEL),
        size=attrs.get("Size"),
        id=(attrs.get("Id") or "").removeprefix("sha256:")[:12] or None,
        created=attrs.get("Created"),
    )


# --- building ----------------------------------------------------------------------------


class ImageBuildError(PynchyError):
    """The engine's build command failed."""


@dataclass
class BuildResult:
    tag: str
    built: bool  # False: skipped, the image was already up to date
    source_hash: str
    base: str | None  # None when skipped and the image has no base label
    id: str | None = None


def build_image(
    engine: EngineSocket | None,
    tag: str,
    *,
    base: str | None = None,
    force: bool = False,
    on_line: OnLine | None = None,
) -> BuildResult:
    """Build the agent image `tag` unless it already carries the current source hash.

    The base is `base`, else $PYNCHY_BASE_IMAGE, else localhost/pynchy-base:bookworm if
    present, else python:3.12-slim if it can be pulled, else a debootstrapped Debian that is
    built on the spot (root only). Each line of the engine's output goes to on_line.
    """
    from pynchy_cli.core.runtimes import base_image

    engine = engine or find_engine()
    say = on_line or (lambda _line: None)
    with tempfile.TemporaryDirectory(prefix="pynchy-build-") as tmp:
        context = Path(tmp)
        source_hash = prepare_context(context)
        before = inspect_image(engine, tag)
        labels = _labels(before)
        if (
            not force
            and labels.get(HASH_LABEL) == source_hash
            and (base is None or labels.get(BASE_LABEL) == base)
        ):
            return BuildResult(tag, False, source_hash, labels.get(BASE_LABEL), _short(before))

        chosen = base_image.choose_base(engine, base, on_line=say)
        say(f"building {tag} from {chosen}")
        argv = [
            *engine_command(engine),
            "build",
            "--file",
            str(context / CONTAINERFILE),
            "--tag",
            tag,
            "--build-arg",
            f"BASE={chosen}",
            "--build-arg",
            f"SOURCE_HASH={source_hash}",
            str(context),
        ]
        done = run_streaming(argv, say)
    if done.returncode != 0:
        raise ImageBuildError(
            f"building {tag} failed ({engine.kind} build exited {done.returncode}: "
            f"{done.last_line or 'no output'})",
            "See the build output above",
        )
    after = inspect_image(engine, tag)
    if _labels(after).get(HASH_LABEL) != source_hash:
        raise ImageBuildError(
            f"{engine.kind} build finished but {tag} does not carry the new source hash",
            f"Check that {engine.url} is the engine the {engine.kind} command talks to",
        )
    _drop_replaced(engine, before, after)
    return BuildResult(tag, True, source_hash, chosen, _short(after))


def _short(attrs: dict[str, Any] | None) -> str | None:
    if not attrs:
        return None
    return (attrs.get("Id") or "").removeprefix("sha256:")[:12] or None


def _drop_replaced(
    engine: EngineSocket, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """Remove the image a rebuild untagged, unless something still uses it."""
    if not before or not after or before.get("Id") == after.get("Id"):
        return
    from docker.errors import APIError

    client = engine_client(engine)
    try:
        client.images.remove(before["Id"])
    except APIError:
        pass  # still tagged elsewhere, or a container uses it
    finally:
        client.close()
