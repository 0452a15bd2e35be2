"""Operations and facts pyinfra does not ship in the shape these deploys need.

- `secret_file`: like files.put, but never prints the content (files.put shows it with --diff).
- `venv_install`: pip installs a set of requirements once; a marker records what is installed,
  so a second run with the same set yields no commands.
- `unit_enabled`: `systemctl enable` unless already enabled. It reads `systemctl is-enabled`,
  which works without a running systemd (a chroot, an image), unlike systemd.service's facts.
- `agent_image`: builds the agent image when the engine does not have it.
- `absent_except`: removes files matching a pattern that are no longer wanted.
- `toml_settings`: sets keys in a TOML file, keeping the rest of it (comments too).
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import FactBase, FileUploadCommand, QuoteString, StringCommand, operation
from pyinfra.api.exceptions import OperationError
from pyinfra.facts.files import File, FileContents, FindFiles, Sha256File
from pyinfra.operations.util import files as file_utils

from deploy.util import toml


class SystemdUnitFileState(FactBase[str]):
    """`systemctl is-enabled UNIT`: enabled, disabled, static, ... or "" if there is no unit."""

    def requires_command(self, *args, **kwargs) -> str:
        return "systemctl"

    def command(self, unit: str) -> str:
        return f"systemctl is-enabled {shlex.quote(unit)} 2>/dev/null || true"

    def process(self, output) -> str:
        return output[0].strip() if output else ""


class PodmanImageExists(FactBase[bool]):
    """Whether the local container engine (podman) has an image."""

    default = bool

    def requires_command(self, *args, **kwargs) -> str:
        return "podman"

    def command(self, image: str) -> str:
        return f"podman image exists {shlex.quote(image)} && echo yes || echo no"

    def process(self, output) -> bool:
        return bool(output) and output[0].strip() == "yes"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@operation()
def secret_file(content: str, dest: str, user: str, group: str, mode: str = "600"):
    """
    Upload `content` to `dest` owned by user:group with `mode`, without ever printing it.

    Keep `dest`'s folder private: the file is written there before its mode is set. With
    sudo/su (the SSH user uploads, root moves), pyinfra stages it in its temporary folder
    (`_temp_dir`, default /tmp): point `_temp_dir` at a folder only that user can read.
    """
    remote = host.get_fact(File, path=dest)
    wanted = _sha256(content)
    if not remote or host.get_fact(Sha256File, path=dest) != wanted:
        args = host.current_op_global_arguments or {}
        escalated = any(args.get(k) for k in ("_sudo", "_su_user", "_doas", "_dzdo"))
        temp_dir = args.get("_temp_dir") if escalated else posixpath.dirname(dest)
        yield FileUploadCommand(
            StringIO(content),
            dest,
            remote_temp_filename=host.get_temp_filename(dest, temp_directory=temp_dir),
        )
        yield file_utils.chown(dest, user, group)
        yield file_utils.chmod(dest, mode)
        return
    if remote.get("user") != user or remote.get("group") != group:
        yield file_utils.chown(dest, user, group)
    if str(remote.get("mode")) != str(mode).lstrip("0"):
        yield file_utils.chmod(dest, mode)


@operation()
def venv_install(
    venv: str,
    requirements: list[str],
    reinstall: list[str] | None = None,
    upgrade: bool = False,
    fingerprint: str = "",
    marker_name: str = ".pynchy-deploy-installed",
):
    """
    `pip install` requirements into a virtualenv unless the same set is installed already.

    + reinstall: files (local wheels) to force-reinstall without deps after the install, so a
      rebuilt wheel of the same version replaces the installed one
    + upgrade: pip install --upgrade on every run (reports a change every time)
    + fingerprint: anything else that should trigger an install when it changes (wheel hashes)
    """
    reinstall = reinstall or []
    key = _sha256("\n".join([*requirements, "--", *reinstall, "--", fingerprint]))
    marker = f"{venv}/{marker_name}"
    installed = host.get_fact(FileContents, path=marker)
    if not upgrade and installed and installed[0].strip() == key:
        host.noop("the same requirements are installed already")
        return
    pip = f"{venv}/bin/pip"
    args = ["install", "--quiet", *(["--upgrade"] if upgrade else []), *requirements]
    yield StringCommand(pip, *(QuoteString(a) for a in args))
    if reinstall:
        yield StringCommand(
            pip, "install", "--quiet", "--no-deps", "--force-reinstall",
            *(QuoteString(r) for r in reinstall),
        )  # fmt: skip
    yield StringCommand("printf", "'%s\\n'", QuoteString(key), ">", QuoteString(marker))


@operation()
def unit_enabled(unit: str):
    """`systemctl enable UNIT` unless it is enabled (works offline, in a chroot too)."""
    state = host.get_fact(SystemdUnitFileState, unit=unit)
    if state in ("enabled", "static", "alias", "indirect", "generated"):
        host.noop(f"{unit} is {state}")
        return
    yield StringCommand("systemctl", "enable", QuoteString(unit))


@operation()
def unit_disabled(unit: str):
    """`systemctl disable UNIT` if it is enabled."""
    if host.get_fact(SystemdUnitFileState, unit=unit) == "enabled":
        yield StringCommand("systemctl", "disable", QuoteString(unit))


@operation()
def agent_image(image: str, build_command: list[str], force: bool = False):
    """Run `build_command` when the engine lacks `image` (or always with `force`)."""
    if not force and host.get_fact(PodmanImageExists, image=image):
        host.noop(f"image {image} exists")
        return
    yield StringCommand(*(QuoteString(a) for a in build_command))


@operation()
def absent_except(directory: str, pattern: str, keep: list[str]):
    """Remove files named like `pattern` in `directory` (not below) whose name is not in `keep`."""
    found = host.get_fact(FindFiles, path=directory, fname=pattern, maxdepth=1) or []
    for path in sorted(found):
        if posixpath.basename(path) not in keep:
            yield StringCommand("rm", "-f", QuoteString(path))


@operation()
def toml_settings(path: str, settings: dict, header: str = ""):
    """
    Set `settings` (nested tables of keys) in the TOML file at `path`; keep everything else.

    Only differing keys are rewritten (deploy/util/toml.py:merge); an existing file that
    changes is first copied to PATH.pynchy-backup. A new file starts with `header`, owned
    by root, mode 644.
    """
    current = host.get_fact(FileContents, path=path)
    text = "\n".join(current) + "\n" if current else ""
    try:
        merged = toml.merge(text, settings)
    except ValueError as exc:
        raise OperationError(f"{path}: {exc}; fix the file, or set the data key to None") from None
    if current and merged == text:
        host.noop(f"{path} has the settings")
        return
    if current:
        yield StringCommand("cp", "-p", QuoteString(path), QuoteString(f"{path}.pynchy-backup"))
    else:
        merged = header + merged
        yield StringCommand("mkdir", "-p", QuoteString(posixpath.dirname(path)))
    yield FileUploadCommand(
        StringIO(merged), path, remote_temp_filename=host.get_temp_filename(path)
    )
    if not current:
        yield file_utils.chown(path, "root", "root")
        yield file_utils.chmod(path, "644")
