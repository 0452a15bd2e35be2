"""Building the agent image and telling whether the one the engine has is current.

A build is skipped while the image carries the source hash of this installation's build
context (images.py); the base it is built FROM is chosen by base_image.py.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.runtimes import base_image
from pynchy_cli.core.runtimes.detect import EngineSocket, find_engine
from pynchy_cli.core.runtimes.engine_cli import OnLine, engine_command, run_streaming
from pynchy_cli.core.runtimes.engine_images import (
    image_labels,
    inspect_image,
    remove_unused_image,
    short_id,
)
from pynchy_cli.core.runtimes.images import (
    BASE_LABEL,
    CONTAINERFILE,
    HASH_LABEL,
    expected_source_hash,
    prepare_context,
)

# --- status ------------------------------------------------------------------------------


def image_source_hash(engine: EngineSocket, tag: str) -> str | None:
    """The source hash the image `tag` was built from; None if absent or unlabelled."""
    return image_labels(inspect_image(engine, tag)).get(HASH_LABEL)


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
    labels = image_labels(attrs)
    source = labels.get(HASH_LABEL)
    return ImageStatus(
        tag=tag,
        present=True,
        up_to_date=source == expected,
        source_hash=source,
        expected_hash=expected,
        base=labels.get(BASE_LABEL),
        size=attrs.get("Size"),
        id=short_id(attrs),
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
    engine = engine or find_engine()
    say = on_line or (lambda _line: None)
    with tempfile.TemporaryDirectory(prefix="pynchy-build-") as tmp:
        context = Path(tmp)
        source_hash = prepare_context(context)
        before = inspect_image(engine, tag)
        labels = image_labels(before)
        if (
            not force
            and labels.get(HASH_LABEL) == source_hash
            and (base is None or labels.get(BASE_LABEL) == base)
        ):
            return BuildResult(tag, False, source_hash, labels.get(BASE_LABEL), short_id(before))

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
    if image_labels(after).get(HASH_LABEL) != source_hash:
        raise ImageBuildError(
            f"{engine.kind} build finished but {tag} does not carry the new source hash",
            f"Check that {engine.url} is the engine the {engine.kind} command talks to",
        )
    _drop_replaced(engine, before, after)
    return BuildResult(tag, True, source_hash, chosen, short_id(after))


def _drop_replaced(
    engine: EngineSocket, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """Remove the image a rebuild untagged, unless something still uses it."""
    if not before or not after or before.get("Id") == after.get("Id"):
        return
    remove_unused_image(engine, before["Id"])
