"""`pynchy backlog` through the real CLI, on real git repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pynchy_cli.core.errors import ExitCode

SEED = Path(__file__).parents[2] / "shared/seeds/000_08817dda8c91aee0.txt"

FOLDERS = [
    "0-proposed",
    "1-approved",
    "2-planning",
    "3-ready",
    "4-in-progress",
    "5-completed",
    "denied",
]
HEADINGS = {
    "0-proposed": "0 - Proposed",
    "1-approved": "1 - Approved",
    "2-planning": "2 - Planning",
    "3-ready": "3 - Ready",
    "4-in-progress": "4 - In Progress",
}


def git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository, isolated from the user's git config, as the working folder."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def backlog(cli, repo: Path) -> Path:
    result = cli("backlog", "init", "--commit")
    assert result.exit_code == 0, result.output
    return repo / "backlog"


def sections(todo: Path) -> dict[str, list[str]]:
    """Item lines per `###` section of a TODO.md, read independently of the code under test."""
    found: dict[str, list[str]] = {}
    current = None
    for line in todo.read_text().splitlines():
        if line.startswith("### "):
            current = line[4:].strip()
            found[current] = []
        elif current and line.startswith("- "):
            found[current].append(line)
    return found


def where_listed(todo: Path, slug: str) -> list[str]:
    return [h for h, lines in sections(todo).items() for line in lines if f"/{slug}.md)" in line]


def plans(folder: Path) -> dict[str, str]:
    """slug -> status folder, for every plan file."""
    return {p.stem: p.parent.name for name in FOLDERS for p in (folder / name).glob("*.md")}


def assert_consistent(cli) -> None:
    result = cli("backlog", "check")
    assert result.exit_code == 0, result.output
    assert "is consistent" in result.stderr


# -- init and add -----------------------------------------------------------------------------


def test_init_writes_folders_index_and_readme(cli, backlog, repo):
    for name in FOLDERS:
        assert (backlog / name).is_dir()
    todo = (backlog / "TODO.md").read_text()
    assert "## Instructions" in todo and "`git mv`" in todo
    assert list(sections(backlog / "TODO.md")) == [*HEADINGS.values(), "Completed", "Denied"]
    readme = (backlog / "README.md").read_text()
    for part in ("# Title", "## Context", "## Plan", "## Done", "**Priority:**"):
        assert part in readme
    # Committed, so empty status folders survive a clone.
    tracked = git(repo, "ls-files", "backlog").split()
    assert "backlog/TODO.md" in tracked and "backlog/3-ready/.gitkeep" in tracked
    assert git(repo, "status", "--porcelain") == ""
    assert_consistent(cli)


def test_init_twice_is_refused(cli, backlog):
    again = cli("backlog", "init")
    assert again.exit_code == ExitCode.CONFLICT
    assert "already exists" in again.stderr


def test_add_puts_human_and_agent_ideas_in_their_folders(cli, backlog, repo):
    result = cli("backlog", "add", "Ray resource orchestration", "--description", "Scale with Ray.")
    assert result.exit_code == 0, result.output
    agent = cli("backlog", "add", "Tidy the logs", "--by", "agent", "--priority", "low")
    assert agent.exit_code == 0, agent.output
    plan = backlog / "1-approved" / "ray-resource-orchestration.md"
    text = plan.read_text()
    assert text.startswith("# Ray resource orchestration\n\nScale with Ray.\n")
    assert "- **By:** human" in text
    for section in ("## Context", "## Plan", "## Done"):
        assert section in text
    proposed = (backlog / "0-proposed" / "tidy-the-logs.md").read_text()
    assert "- **By:** agent" in proposed and "- **Priority:** low" in proposed
    listed = sections(backlog / "TODO.md")
    assert listed["1 - Approved"] == [
        "- [Ray resource orchestration](1-approved/ray-resource-orchestration.md) — Scale with Ray."
    ]
    assert listed["0 - Proposed"] == [
        "- **[LOW PRIORITY]** [Tidy the logs](0-proposed/tidy-the-logs.md)"
    ]
    status = git(repo, "status", "--porcelain").splitlines()
    assert "A  backlog/1-approved/ray-resource-orchestration.md" in status
    assert "M  backlog/TODO.md" in status
    assert_consistent(cli)
    clash = cli("backlog", "add", "Ray: resource orchestration!")
    assert clash.exit_code == ExitCode.CONFLICT
    assert "already exists" in clash.stderr


# -- moves ------------------------------------------------------------------------------------


def test_every_move_is_a_rename_and_keeps_the_index_consistent(cli, backlog, repo):
    assert cli("backlog", "add", "Ray resource orchestration", "--commit").exit_code == 0
    path = "1-approved"
    for verb, folder in [
        ("plan", "2-planning"),
        ("ready", "3-ready"),
        ("start", "4-in-progress"),
        ("done", "5-completed"),
    ]:
        result = cli("backlog", verb, "ray-resource-orchestration", "--commit")
        assert result.exit_code == 0, result.output
        changes = git(repo, "show", "-M", "--name-status", "--format=", "HEAD").splitlines()
        assert sorted(changes) == sorted(
            [
                f"R100\tbacklog/{path}/ray-resource-orchestration.md"
                f"\tbacklog/{folder}/ray-resource-orchestration.md",
                "M\tbacklog/TODO.md",
            ]
        )
        message = git(repo, "log", "-1", "--format=%s")
        assert message.startswith('backlog: move "Ray resource orchestration" to ')
        expected = [HEADINGS[folder]] if folder in HEADINGS else []
        assert where_listed(backlog / "TODO.md", "ray-resource-orchestration") == expected
        assert git(repo, "status", "--porcelain") == ""
        assert_consistent(cli)
        path = folder


def test_move_stages_the_rename_and_the_index_together(cli, backlog, repo):
    cli("backlog", "add", "Ray resource orchestration", "--commit")
    result = cli("backlog", "move", "ray-resource-orchestration", "ready")
    assert result.exit_code == 0, result.output
    assert "from approved to ready" in result.stderr
    status = git(repo, "status", "--porcelain").splitlines()
    assert sorted(status) == [
        "M  backlog/TODO.md",
        "R  backlog/1-approved/ray-resource-orchestration.md -> "
        "backlog/3-ready/ray-resource-orchestration.md",
    ]
    staged = git(repo, "diff", "--cached", "-M", "--name-status").splitlines()
    assert "R100\tbacklog/1-approved/ray-resource-orchestration.md\t" in staged[0] + "\t"
    assert where_listed(backlog / "TODO.md", "ray-resource-orchestration") == ["3 - Ready"]
    # A second move before committing stays one rename from the committed path.
    assert cli("backlog", "start", "ray", "--commit").exit_code == 0
    changes = git(repo, "show", "-M", "--name-status", "--format=", "HEAD").splitlines()
    assert (
        "R100\tbacklog/1-approved/ray-resource-orchestration.md"
        "\tbacklog/4-in-progress/ray-resource-orchestration.md"
    ) in changes
    assert git(repo, "status", "--porcelain") == ""
    assert_consistent(cli)


def test_deny_removes_the_line_and_reopening_restores_it(cli, backlog, repo):
    cli("backlog", "add", "Blockchain everything", "-m", "Put it on a chain.", "--commit")
    assert cli("backlog", "deny", "blockchain", "--commit").exit_code == 0
    assert (backlog / "denied" / "blockchain-everything.md").exists()
    assert where_listed(backlog / "TODO.md", "blockchain-everything") == []
    assert_consistent(cli)
    assert cli("backlog", "move", "blockchain-everything", "proposed").exit_code == 0
    assert sections(backlog / "TODO.md")["0 - Proposed"] == [
        "- [Blockchain everything](0-proposed/blockchain-everything.md) — Put it on a chain."
    ]
    assert_consistent(cli)


def test_an_added_item_can_move_before_it_is_committed(cli, backlog, repo):
    cli("backlog", "add", "Quick idea", "--by", "agent")
    assert cli("backlog", "approve", "quick-idea").exit_code == 0
    status = git(repo, "status", "--porcelain").splitlines()
    assert "A  backlog/1-approved/quick-idea.md" in status
    assert not (backlog / "0-proposed" / "quick-idea.md").exists()
    assert_consistent(cli)


def test_a_dirty_plan_is_not_moved(cli, backlog, repo):
    cli("backlog", "add", "Security hardening", "--commit")
    plan = backlog / "1-approved" / "security-hardening.md"
    plan.write_text(plan.read_text() + "\nhalf-written thought\n")
    result = cli("backlog", "ready", "security-hardening")
    assert result.exit_code == ExitCode.CONFLICT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "backlog/1-approved/security-hardening.md has uncommitted changes" in lines[0]
    assert "Commit or stash" in lines[0]
    assert plan.exists() and where_listed(backlog / "TODO.md", "security-hardening") == [
        "1 - Approved"
    ]


def test_an_untracked_plan_is_not_moved(cli, backlog, repo):
    stray = backlog / "1-approved" / "stray.md"
    stray.write_text("# Stray\n")
    result = cli("backlog", "ready", "stray")
    assert result.exit_code == ExitCode.CONFLICT
    assert "is not in git yet" in result.stderr
    assert stray.exists()


# -- finding items ----------------------------------------------------------------------------


def test_items_by_slug_title_prefix_or_path_and_ambiguity(cli, backlog):
    for title in ("Plugin: Channel", "Plugin: Runtime", "Security hardening"):
        cli("backlog", "add", title, "--commit")
    by_prefix = json.loads(cli("backlog", "show", "secur", "--json").stdout)
    assert by_prefix["slug"] == "security-hardening"
    by_title = json.loads(cli("backlog", "show", "plugin: runtime", "--json").stdout)
    assert by_title["slug"] == "plugin-runtime"
    by_path = cli("backlog", "show", "backlog/1-approved/plugin-channel.md", "--json")
    assert json.loads(by_path.stdout)["path"] == "backlog/1-approved/plugin-channel.md"
    ambiguous = cli("backlog", "move", "plugin", "ready")
    assert ambiguous.exit_code == ExitCode.USAGE
    assert "'plugin' matches 2 items: plugin-channel, plugin-runtime" in ambiguous.stderr
    missing = cli("backlog", "move", "nothing-like-this", "ready")
    assert missing.exit_code == ExitCode.NOT_FOUND
    assert missing.stderr.strip().splitlines() == [
        "pynchy: error: no backlog item matches 'nothing-like-this'. "
        "List items with: pynchy backlog list"
    ]
    typo = cli("backlog", "show", "security-hardenning")
    assert typo.exit_code == ExitCode.NOT_FOUND
    assert "Did you mean security-hardening?" in typo.stderr
    bad_status = cli("backlog", "move", "secur", "someday")
    assert bad_status.exit_code == ExitCode.USAGE
    assert "unknown status 'someday'" in bad_status.stderr


def test_outside_git_is_refused_in_one_line(cli, tmp_path, monkeypatch):
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(plain)
    for args in (["init"], ["list"], ["import", str(SEED)]):
        result = cli("backlog", *args)
        assert result.exit_code == ExitCode.USAGE, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "is not inside a git repository" in lines[0]
        assert "git init" in lines[0]
    assert list(plain.iterdir()) == []


def test_no_backlog_yet_says_how_to_start(cli, repo):
    result = cli("backlog", "list")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "pynchy backlog init" in result.stderr


# -- list and show ----------------------------------------------------------------------------


def test_list_json_status_filter_and_plain_text(cli, backlog):
    cli("backlog", "add", "One", "--commit")
    cli("backlog", "add", "Two", "--by", "agent", "--commit")
    cli("backlog", "add", "Three", "--commit")
    cli("backlog", "done", "three", "--commit")
    rows = json.loads(cli("backlog", "list", "--json").stdout)
    assert [(r["slug"], r["status"]) for r in rows] == [("two", "proposed"), ("one", "approved")]
    everything = json.loads(cli("backlog", "list", "--all", "--json").stdout)
    assert [r["slug"] for r in everything] == ["two", "one", "three"]
    done = json.loads(cli("backlog", "list", "--status", "done", "--json").stdout)
    assert [r["slug"] for r in done] == ["three"]
    plain = cli("backlog", "list").stdout.splitlines()
    assert plain[0] == "status\tslug\ttitle\tpriority\tby"
    assert plain[1].startswith("proposed\ttwo\tTwo\t")


def test_show_prints_the_plan(cli, backlog):
    cli("backlog", "add", "Periodic agents", "-m", "Background agents.", "--priority", "high")
    result = cli("backlog", "show", "periodic")
    assert result.exit_code == 0, result.output
    assert "status" in result.stdout and "approved" in result.stdout
    assert "# Periodic agents" in result.stdout and "## Context" in result.stdout
    data = json.loads(cli("backlog", "show", "periodic", "--json").stdout)
    assert data["priority"] == "high" and data["description"] == "Background agents."


# -- import -----------------------------------------------------------------------------------


def seed_items() -> list[tuple[str, str]]:
    """(section, line) for every item line of the seed, read plainly."""
    assert SEED.is_file(), f"the seed backlog is missing: {SEED}"
    return [(h, line) for h, lines in sections(SEED).items() for line in lines]


def test_import_of_the_seed_gives_one_plan_per_item(cli, repo):
    lines = seed_items()
    assert len(lines) == 21  # Plugin: Channel is listed twice
    result = cli("backlog", "import", str(SEED))
    assert result.exit_code == 0, result.output
    assert "imported 20 items" in result.stderr
    assert "Plugin: Channel" in result.stderr  # the duplicate is reported
    folder = repo / "backlog"
    found = plans(folder)
    assert len(found) == 20
    # Linked items keep their link's name, in the folder of their section.
    assert found["ray-resource-orchestration"] == "1-approved"
    assert found["security-hardening"] == "3-ready"
    assert found["system-message-logging"] == "2-planning"
    # The item listed under both 2 - Planning and 4 - In Progress: one plan, the later status.
    assert found["plugin-channel"] == "4-in-progress"
    # Unlinked items get a short slug and keep their full text.
    assert found["convert-setup-pyinfra-deployments"] == "0-proposed"
    handoff = (folder / "1-approved" / "implement-handoff-tool-calls.md").read_text()
    assert "the delegate tool is a blocking call" in handoff
    # Bold priority markers become a field.
    apple = (folder / "1-approved" / "extract-apple-container-runtime.md").read_text()
    assert "- **Priority:** low" in apple and "**[LOW" not in apple.splitlines()[0]
    # Every plan has the format's sections and its line in TODO.md.
    todo = folder / "TODO.md"
    listed = sections(todo)
    assert sum(len(v) for h, v in listed.items()) == 20
    for slug, status in found.items():
        text = (folder / status / f"{slug}.md").read_text()
        assert text.startswith("# ") and "## Plan" in text
        assert where_listed(todo, slug) == [HEADINGS[status]]
    counts = {h: len(v) for h, v in listed.items() if v}
    assert counts == {
        "0 - Proposed": 1,
        "1 - Approved": 12,
        "2 - Planning": 5,
        "3 - Ready": 1,
        "4 - In Progress": 1,
    }
    assert git(repo, "log", "-1", "--format=%s").startswith("backlog: import 20 items")
    assert git(repo, "status", "--porcelain") == ""
    assert_consistent(cli)


def test_done_when_import_move_check_shows_the_rename(cli, repo):
    assert cli("backlog", "import", str(SEED)).exit_code == 0
    moved = cli("backlog", "move", "ray-resource-orchestration", "ready")
    assert moved.exit_code == 0, moved.output
    assert_consistent(cli)
    status = git(repo, "status", "--porcelain").splitlines()
    assert (
        "R  backlog/1-approved/ray-resource-orchestration.md -> "
        "backlog/3-ready/ray-resource-orchestration.md"
    ) in status
    assert where_listed(repo / "backlog" / "TODO.md", "ray-resource-orchestration") == ["3 - Ready"]


def test_import_again_adds_nothing(cli, repo):
    cli("backlog", "import", str(SEED))
    head = git(repo, "rev-parse", "HEAD")
    again = cli("backlog", "import", str(SEED))
    assert again.exit_code == 0
    assert "nothing new" in again.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""


def test_import_copies_plans_found_beside_the_index(cli, repo, tmp_path):
    old = tmp_path / "old"
    (old / "3-ready").mkdir(parents=True)
    (old / "3-ready" / "faster-builds.md").write_text("# Faster builds\n\nCache layers.\n")
    (old / "TODO.md").write_text(
        "### 3 - Ready\n\n- [Faster builds](3-ready/faster-builds.md) — Cache layers\n"
    )
    result = cli("backlog", "import", str(old / "TODO.md"), "--dir", "work", "--no-commit")
    assert result.exit_code == 0, result.output
    plan = repo / "work" / "3-ready" / "faster-builds.md"
    assert plan.read_text() == "# Faster builds\n\nCache layers.\n"
    assert "A  work/3-ready/faster-builds.md" in git(repo, "status", "--porcelain").splitlines()
    assert cli("backlog", "check", "--dir", "work").exit_code == 0


def test_import_of_a_file_without_items_is_refused(cli, repo, tmp_path):
    empty = tmp_path / "notes.md"
    empty.write_text("# Notes\n\n- just a list\n")
    result = cli("backlog", "import", str(empty))
    assert result.exit_code == ExitCode.USAGE
    assert "no backlog items found" in result.stderr
    assert not (repo / "backlog").exists()


# -- check ------------------------------------------------------------------------------------


def test_check_reports_each_disagreement_and_fix_repairs_it(cli, backlog, repo):
    for title in ("Alpha", "Beta", "Gamma", "Delta"):
        cli("backlog", "add", title, "--commit")
    todo = backlog / "TODO.md"
    text = todo.read_text()
    # An orphan plan (no line), a line whose plan is missing, a line in the wrong section,
    # a duplicate line, a completed item still listed, and a line with no plan at all.
    (backlog / "2-planning" / "orphan.md").write_text("# Orphan\n\nNobody lists me.\n")
    git(repo, "mv", "backlog/1-approved/beta.md", "backlog/3-ready/beta.md")
    git(repo, "mv", "backlog/1-approved/gamma.md", "backlog/5-completed/gamma.md")
    text = text.replace(
        "*Being implemented.*\n",
        "*Being implemented.*\n\n- [Alpha](1-approved/alpha.md)\n"
        "- [Ghost](4-in-progress/ghost.md) — lost its plan\n"
        "- just an idea without a plan\n",
    )
    todo.write_text(text)
    result = cli("backlog", "check", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["consistent"] is False
    kinds = sorted(p["kind"] for p in report["problems"])
    assert kinds == sorted(
        [
            "orphan",
            "missing-plan",
            "stale-link",
            "wrong-section",
            "duplicate",
            "closed-listed",
            "no-plan",
            "stale-link",
        ]
    )
    plain = cli("backlog", "check")
    assert plain.exit_code == 1 and "run with --fix" in plain.stderr
    fixed = cli("backlog", "check", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert "is consistent" in fixed.stderr
    listed = sections(todo)
    assert listed["1 - Approved"] == [
        "- [Alpha](1-approved/alpha.md)",
        "- [Delta](1-approved/delta.md)",
    ]
    assert listed["2 - Planning"] == ["- [Orphan](2-planning/orphan.md) — Nobody lists me."]
    assert listed["3 - Ready"] == ["- [Beta](3-ready/beta.md)"]
    assert listed["4 - In Progress"] == [
        "- [Ghost](4-in-progress/ghost.md) — lost its plan",
        "- [Just an idea without a plan](4-in-progress/just-idea-without-plan.md)",
    ]
    assert (backlog / "4-in-progress" / "ghost.md").read_text().startswith("# Ghost\n")
    assert where_listed(todo, "gamma") == []
    status = git(repo, "status", "--porcelain").splitlines()
    assert "A  backlog/4-in-progress/ghost.md" in status and "M  backlog/TODO.md" in status
    assert_consistent(cli)


def test_check_leaves_two_plans_with_one_name_to_a_person(cli, backlog):
    cli("backlog", "add", "Twin", "--commit")
    (backlog / "3-ready" / "twin.md").write_text("# Twin\n")
    result = cli("backlog", "check", "--fix", "--json")
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [p["kind"] for p in problems] == ["same-name"]
    assert problems[0]["fixable"] is False
    ambiguous = cli("backlog", "show", "twin")
    assert ambiguous.exit_code == ExitCode.USAGE
    assert "1-approved/twin.md, 3-ready/twin.md" in ambiguous.stderr


def test_a_multi_line_item_is_reported(cli, backlog):
    cli("backlog", "add", "Wordy", "--commit")
    todo = backlog / "TODO.md"
    todo.write_text(
        todo.read_text().replace(
            "(1-approved/wordy.md)\n", "(1-approved/wordy.md)\n  and more words here\n"
        )
    )
    result = cli("backlog", "check", "--json")
    assert result.exit_code == 1
    assert [p["kind"] for p in json.loads(result.stdout)["problems"]] == ["multi-line"]


def test_check_fix_turns_a_seed_style_index_into_a_backlog_in_place(cli, repo):
    folder = repo / "backlog"
    folder.mkdir()
    (folder / "TODO.md").write_text(SEED.read_text())
    before = cli("backlog", "check", "--json")
    assert before.exit_code == 1
    kinds = {p["kind"] for p in json.loads(before.stdout)["problems"]}
    assert {"missing-folder", "missing-plan", "no-plan"} <= kinds
    fixed = cli("backlog", "check", "--fix")
    assert fixed.exit_code == 0, fixed.output
    found = plans(folder)
    assert len(found) == 20
    assert found["plugin-channel"] == "4-in-progress"  # the later of its two sections
    assert found["convert-setup-pyinfra-deployments"] == "0-proposed"
    assert sum(len(v) for v in sections(folder / "TODO.md").values()) == 20


def test_commands_find_the_backlog_from_a_subfolder(cli, backlog, repo, monkeypatch):
    cli("backlog", "add", "Deep work", "--commit")
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    rows = json.loads(cli("backlog", "list", "--json").stdout)
    assert [r["path"] for r in rows] == ["backlog/1-approved/deep-work.md"]
    assert cli("backlog", "ready", "deep", "--commit").exit_code == 0
    assert (backlog / "3-ready" / "deep-work.md").exists()


def test_fix_converges_on_lines_under_denied_and_completed(cli, backlog, repo):
    todo = backlog / "TODO.md"
    text = todo.read_text()
    text = text.replace(
        "removed.\n\n### Denied", "removed.\n\n- Ship it on floppy disks\n\n### Denied", 1
    )
    todo.write_text(text.rstrip("\n") + "\n\n- Use a blockchain for storage\n")
    assert sections(todo)["Denied"] == ["- Use a blockchain for storage"]
    fixed = cli("backlog", "check", "--fix")
    assert fixed.exit_code == 0, fixed.output
    # Their plans are kept as the record of the decision; their lines leave TODO.md.
    assert plans(backlog) == {
        "use-blockchain-storage": "denied",
        "ship-floppy-disks": "5-completed",
    }
    assert sections(todo)["Denied"] == [] and sections(todo)["Completed"] == []
    again = cli("backlog", "check", "--fix", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["problems"] == []
    status = git(repo, "status", "--porcelain").splitlines()
    assert "A  backlog/denied/use-blockchain-storage.md" in status
    assert_consistent(cli)
