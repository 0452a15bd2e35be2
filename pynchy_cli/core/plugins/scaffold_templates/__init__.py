"""The files `pynchy plugin new` writes, as string.Template texts ($$ is a literal $).

Placeholders: $name (plugin and component name), $dist, $module, $cls, $env, $kind,
$deps, $summary. The package files are here; each kind's module is in modules.py, its
tests in tests.py.
"""

# ruff: noqa: E501

from pynchy_cli.core.plugins.scaffold_templates.modules import EXTRA_FILES, MODULE
from pynchy_cli.core.plugins.scaffold_templates.tests import (
    CONFTEST,
    TESTS,
    TESTS_COMMON,
    TESTS_DISCOVERY,
)

__all__ = [
    "CONFTEST",
    "EXTRA_DEPS",
    "EXTRA_FILES",
    "GITIGNORE",
    "MODULE",
    "PYPROJECT",
    "README",
    "README_KIND",
    "SUMMARY",
    "TESTS",
    "TESTS_COMMON",
    "TESTS_DISCOVERY",
]

SUMMARY = {
    "runtime": "a runtime that runs pynchy's agent containers with a Docker-compatible CLI",
    "channel": "a chat channel for pynchy",
    "agent_core": "a model provider (agent core) for pynchy",
    "mcp": "an MCP server that pynchy runs on the host for its agents",
    "skill": "a skill (instructions an agent reads when a task calls for them)",
    "hook": "lifecycle hooks around pynchy's agent runs and tool calls",
    "commands": "commands added to the pynchy CLI",
}

EXTRA_DEPS = {"mcp": ("mcp>=2.3",), "commands": ("typer",)}

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "$dist"
version = "0.1.0"
description = "pynchy plugin: $summary"
readme = "README.md"
requires-python = ">=3.11"
dependencies = [$deps]

[project.optional-dependencies]
test = ["pytest>=8"]

# pynchy finds plugins through this entry point group: NAME = "module"
[project.entry-points.pynchy]
$name = "$module"

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "SIM"]
"""

GITIGNORE = """\
__pycache__/
*.egg-info/
build/
dist/
.pytest_cache/
"""

README = """\
# $dist

A pynchy plugin: $summary.

## Install and test

```sh
pynchy plugin install ./$dist          # or: pynchy plugin install -e ./$dist while developing
pynchy plugin list                     # $name shows, kind $kind
python -m pytest $dist/tests          # with the python of pynchy's environment
```

Turn it off without uninstalling: `pynchy plugin disable $name` (writes
`[plugin.$name] enabled = false` to config.toml); remove it: `pynchy plugin uninstall $name`.
Its settings live in config.toml under `[plugin.$name]` (`settings.plugin["$name"]`).

The plugin imports only from `pynchy_cli` (its public API) and registers itself through the
hook in `$module/__init__.py`.
"""

README_KIND = {
    "runtime": """
## Use

```sh
pynchy agent run --runtime $name "hello"     # or runtime = "$name" in config.toml
```

```toml
[plugin.$name]
executable = "nerdctl"     # any CLI that speaks docker's run/inspect/stop/rm/logs/ps
```
""",
    "channel": """
## Use

Connect to your platform in `start()` and hand each message to `deliver()`. Map a chat to
a group, then run `pynchy serve`:

```sh
pynchy groups add family --channel $name --chat CHAT_ID
```

Credentials stay on the host: `${env}_TOKEN` or `token` in `[plugin.$name]`.
""",
    "agent_core": """
## Use

```sh
pynchy agent run --model $name:MODEL "hello"     # or model = "$name:MODEL" in config.toml
```

This core answers deterministically and offline; replace `complete()` with a call to your
provider. The host keeps the credentials: read them in `make_core` from the environment or
from `[plugin.$name]`.
""",
    "mcp": """
## Use

pynchy runs the server (`$module/server.py`) on the host; agents see its tools as
`mcp__${name}__TOOL`. Limit it to some groups, or replace it, in config.toml:

```toml
[mcp.$name]
command = ["python", "-m", "$module.server"]
groups = ["main"]
risk = "read"
```
""",
    "skill": """
## Use

The skill lives in `$module/skills/$name/SKILL.md`. Agents see its name and description in
their system prompt and read the rest with the `read_skill` tool when a task calls for it.
""",
    "hook": """
## Use

`pynchy_before_tool` refuses `bash` commands that contain a blocked pattern:

```toml
[plugin.$name]
blocked = ["rm -rf /", "mkfs"]
```
""",
    "commands": """
## Use

```sh
pynchy $name hello Ana
```
""",
}
