"""`pynchy agent image`: build the agent container image and tell whether it is current."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_json, emit_mapping, err_console, warn

if TYPE_CHECKING:
    from pynchy_cli.core.runtimes.detect import EngineSocket

app = typer.Typer(
    no_args_is_help=True,
    help="Build the agent container image and check whether it is up to date.",
)


def _engine(ctx: typer.Context) -> EngineSocket:
    from pynchy_cli.core.runtimes.detect import find_engine

    settings = context(ctx).settings
    want = None if settings.runtime == "process" else settings.runtime
    return find_engine(settings.container_socket, want)


def _done(message: str) -> None:
    """Like output.success, but never wrapped: scripts grep this line."""
    mark = "[green]✓[/green] " if err_console.is_terminal else ""
    err_console.print(mark + message, soft_wrap=True, highlight=False)


def _size(size: int | None) -> str | None:
    if size is None:
        return None
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return None  # unreachable


@app.command("build")
def build(
    ctx: typer.Context,
    tag: str | None = typer.Option(None, "--tag", help="Image tag (default: settings.image)."),
    base: str | None = typer.Option(
        None,
        "--base",
        help="Image to build FROM (default: $PYNCHY_BASE_IMAGE, localhost/pynchy-base:bookworm, "
        "python:3.12-slim, or a debootstrapped Debian built on the spot).",
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the image is current."),
) -> None:
    """Build the agent image; skipped while its sources are unchanged."""
    from pynchy_cli.core.runtimes import image_build as core

    settings = context(ctx).settings
    tag = tag or settings.image
    engine = _engine(ctx)

    def show(line: str) -> None:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)

    result = core.build_image(engine, tag, base=base, force=force, on_line=show)
    short = result.source_hash[:12]
    if result.built:
        _done(f"built {tag} from {result.base} (sources {short}, image {result.id})")
    else:
        _done(f"{tag} is up to date (sources {short}, image {result.id}); --force rebuilds it")


@app.command("status")
def status(
    ctx: typer.Context, tag: str | None = typer.Option(None, "--tag"), as_json: bool = JSON_OPTION
) -> None:
    """Show the agent image: present, up to date, size, base."""
    from pynchy_cli.core.runtimes import image_build as core

    settings = context(ctx).settings
    tag = tag or settings.image
    engine = _engine(ctx)
    info = core.image_status(engine, tag)
    if as_json:
        emit_json({**info.public(), "engine": engine.url})
        return
    data = info.public()
    data["size"] = _size(info.size)
    for key in ("source_hash", "expected_hash"):
        data[key] = (data[key] or "")[:12] or None
    emit_mapping({**data, "engine": engine.url})
    if not info.present:
        warn(f"{tag} is not built; run: pynchy agent image build")
    elif not info.up_to_date:
        warn(f"{tag} is older than pynchy's sources; run: pynchy agent image build")
