"""`pynchy backlog`: the git-managed backlog (TODO.md plus one plan file per item)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.markup import escape

from pynchy_cli.cli.common import JSON_OPTION
from pynchy_cli.cli.output import console, emit_json, emit_mapping, emit_table, success, warn
from pynchy_cli.core.backlog import STATUSES, Backlog
from pynchy_cli.core.backlog.store import Moved

app = typer.Typer(
    no_args_is_help=True,
    help="The backlog: TODO.md plus one plan per item, moved between status folders with git mv.",
)

DIR_OPTION = typer.Option(
    None,
    "--dir",
    "-d",
    help="The backlog folder (default: ./backlog, else backlog/ at the git root).",
)
COMMIT_OPTION = typer.Option(False, "--commit", help="Commit the change (only its own files).")
ITEM_ARGUMENT = typer.Argument(..., help="Slug, title (or a unique prefix) or path of the item.")
_COLUMNS = ["status", "slug", "title", "priority", "by"]


def _staged(commit: str | None) -> str:
    return f"committed {commit}" if commit else "staged"


@app.command("init")
def init(
    folder: Path | None = typer.Argument(None, help="Where to create it (default: ./backlog)."),
    dir_option: Path | None = DIR_OPTION,
    commit: bool = COMMIT_OPTION,
) -> None:
    """Create the status folders, TODO.md (instructions and sections) and a README."""
    from pynchy_cli.core.backlog.store import DEFAULT_DIR
    from pynchy_cli.core.errors import UsageError

    if folder and dir_option and folder != dir_option:
        raise UsageError("give the folder once, as DIR or --dir", "e.g. pynchy backlog init work")
    backlog = Backlog.locate(folder or dir_option or Path(DEFAULT_DIR), must_exist=False)
    written = backlog.init()
    sha = backlog.commit("backlog: start a backlog", written) if commit else None
    success(f"created backlog {backlog.display()} ({_staged(sha)})")


@app.command("add")
def add(
    title: str = typer.Argument(..., help="A short title; its slug names the plan file."),
    by: str = typer.Option(
        "human", "--by", help="human (goes to 1-approved) or agent (goes to 0-proposed)."
    ),
    description: str = typer.Option("", "--description", "-m", help="A one-line description."),
    priority: str | None = typer.Option(None, "--priority", help="e.g. low or high."),
    slug: str | None = typer.Option(
        None, "--slug", help="The plan's file name, if not the title's."
    ),
    folder: Path | None = DIR_OPTION,
    commit: bool = COMMIT_OPTION,
) -> None:
    """Add an item: a stub plan in the right folder and its line in TODO.md."""
    backlog = Backlog.locate(folder)
    item = backlog.add(title, by=by, description=description, priority=priority, slug=slug)
    sha = None
    if commit:
        sha = backlog.commit(f'backlog: add "{item.title}"', [item.path, backlog.index_path])
    success(
        f"added {item.slug} to {item.status.name} ({backlog.display(item.path)}, {_staged(sha)})"
    )


@app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", "-s", help="Only items with this status."),
    show_all: bool = typer.Option(False, "--all", "-a", help="Include completed and denied."),
    folder: Path | None = DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List items in pipeline order (open ones unless --all or --status)."""
    from pynchy_cli.core.backlog import parse_status

    backlog = Backlog.locate(folder)
    wanted = parse_status(status) if status else None
    items = [
        i
        for i in backlog.items()
        if (i.status == wanted if wanted else show_all or i.status.tracked)
    ]
    emit_table(
        [i.public(backlog.git) for i in items],
        _COLUMNS,
        as_json=as_json,
        empty='no items; add one with: pynchy backlog add "TITLE"',
    )


@app.command("show")
def show(
    item: str = ITEM_ARGUMENT, folder: Path | None = DIR_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Show an item and its plan."""
    from rich.markdown import Markdown

    backlog = Backlog.locate(folder)
    found = backlog.find(item)
    data = found.public(backlog.git)
    text = found.path.read_text(encoding="utf-8", errors="replace")
    if as_json:
        emit_json({**data, "text": text})
        return
    emit_mapping({k: v for k, v in data.items() if k != "description"})
    print()
    if console.is_terminal:
        console.print(Markdown(text))
    else:
        print(text, end="" if text.endswith("\n") else "\n")


def _report_move(backlog: Backlog, moved: Moved) -> None:
    item, source = moved.item, moved.source
    if not moved.changed:
        success(f"{item.slug} is already {item.status.name} ({backlog.display(item.path)})")
        return
    success(
        f"moved {item.slug} from {source.status.name} to {item.status.name} "
        f"({_staged(moved.commit)})"
    )


def _move(item: str, status: str, folder: Path | None, commit: bool) -> None:
    from pynchy_cli.core.backlog import parse_status

    backlog = Backlog.locate(folder)
    target = parse_status(status)
    _report_move(backlog, backlog.move(backlog.find(item), target, commit=commit))


_STATUS_HELP = ", ".join(s.name for s in STATUSES)


@app.command("move")
def move(
    item: str = ITEM_ARGUMENT,
    status: str = typer.Argument(..., help=f"The new status: {_STATUS_HELP}."),
    folder: Path | None = DIR_OPTION,
    commit: bool = COMMIT_OPTION,
) -> None:
    """Change an item's status: git mv its plan and move its line in TODO.md, staged together."""
    _move(item, status, folder, commit)


def _alias(verb: str, status_name: str, folder_name: str) -> None:
    def command(
        item: str = ITEM_ARGUMENT,
        folder: Path | None = DIR_OPTION,
        commit: bool = COMMIT_OPTION,
    ) -> None:
        _move(item, status_name, folder, commit)

    command.__doc__ = f"Move an item to {folder_name}/ (same as: move ITEM {status_name})."
    command.__name__ = verb
    app.command(verb)(command)


for _status in STATUSES:
    if _status.verb:
        _alias(_status.verb, _status.name, _status.folder)


@app.command("check")
def check(
    fix: bool = typer.Option(False, "--fix", help="Repair what is safe, and stage the repair."),
    folder: Path | None = DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check that TODO.md and the status folders agree; --fix repairs what is safe."""
    from pynchy_cli.core.backlog.check import check as check_backlog
    from pynchy_cli.core.backlog.check import fix as fix_backlog

    backlog = Backlog.locate(folder)
    problems = check_backlog(backlog)
    fixed = []
    if fix and any(p.fixable for p in problems):
        fix_backlog(backlog)
        after = check_backlog(backlog)
        fixed = [p for p in problems if p not in after]
        problems = after
    items = backlog.items()
    if as_json:
        emit_json(
            {
                "consistent": not problems,
                "items": len(items),
                "problems": [p.public() for p in problems],
                "fixed": [p.public() for p in fixed],
            }
        )
    else:
        for p in fixed:
            console.print(f"[green]fixed[/green]  {p.kind}: {escape(p.message)}", soft_wrap=True)
        for p in problems:
            note = "" if p.fixable else " (fix by hand)"
            console.print(f"[red]{p.kind}[/red]: {escape(p.message)}{note}", soft_wrap=True)
    if problems:
        if not as_json:
            hint = "; run with --fix" if any(p.fixable for p in problems) and not fix else ""
            warn(f"{len(problems)} problem(s) in {backlog.display()}{hint}")
        raise typer.Exit(1)
    if not as_json:
        counts = Counter(i.status.name for i in items)
        summary = ", ".join(f"{counts[s.name]} {s.name}" for s in STATUSES if counts[s.name])
        success(f"{backlog.display()} is consistent: {len(items)} items ({summary or 'none'})")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="An existing index, e.g. an old TODO.md."),
    folder: Path | None = DIR_OPTION,
    commit: bool = typer.Option(
        True, "--commit/--no-commit", help="Commit the imported plans (default) or only stage them."
    ),
) -> None:
    """Import an index's items as plan files (creating the backlog if needed), and commit."""
    from pynchy_cli.core.backlog.importer import import_index

    backlog = Backlog.locate(folder, must_exist=False)
    result = import_index(backlog, file, commit=commit)
    for note in result.notes:
        warn(note)
    if result.skipped:
        warn(f"skipped {len(result.skipped)} already in the backlog: {', '.join(result.skipped)}")
    counts = Counter(i.status.name for i in result.created)
    summary = ", ".join(f"{counts[s.name]} {s.name}" for s in STATUSES if counts[s.name])
    where = backlog.display()
    if not result.created:
        success(f"nothing new to import into {where}")
        return
    success(
        f"imported {len(result.created)} items into {where} ({summary}); "
        + (f"committed {result.commit}" if result.commit else "staged")
    )
