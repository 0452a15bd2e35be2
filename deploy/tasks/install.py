"""A virtual environment with pynchy and its plugins, from a local checkout, git or an index.

`pynchy_source`: "local" (the default: the checkout at `pynchy_source_path`, default the one
this deploy lives in), any pip requirement such as "git+https://github.com/OWNER/pynchy@main",
or "pypi" (`pynchy` from the configured index, with `pynchy_version` to pin: pynchy is not on
PyPI, so this is for a private index set in `pynchy_pip_config`). Local projects (the
checkout, plugin folders) are built into wheels on the deployer and uploaded; the host never
needs the sources.
"""

from __future__ import annotations

import hashlib
from io import StringIO
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, pip

from deploy.util import build
from deploy.util.defaults import DEFAULTS, Options, options
from deploy.util.ops import absent_except, venv_install


def _pip_conf(config: dict) -> str:
    lines = ["# Written by pynchy's deploy (data key pynchy_pip_config)."]
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {v}" for k, v in values.items())
    return "\n".join(lines) + "\n"


def _with_ray_extra(requirement: str) -> str:
    """pynchy's requirement (a wheel, `pynchy==V` or a URL) with the `ray` extra."""
    if requirement.endswith(".whl"):
        return f"{requirement}[ray]"
    if "://" in requirement:
        return f"pynchy[ray] @ {requirement}"
    return requirement.replace("pynchy", "pynchy[ray]", 1)


def requirements(opts: Options) -> tuple[list[str], list[build.Wheel]]:
    """pip requirement strings, and the local wheels among them (built on the deployer)."""
    reqs: list[str] = []
    wheels: list[build.Wheel] = []

    def add_local(path: Path) -> None:
        wheel = build.wheel(path)
        wheels.append(wheel)
        reqs.append(f"{opts.dist_dir}/{wheel.name}")

    if opts.source == "pypi":
        version = opts.version
        if version and version[0].isdigit():
            version = f"=={version}"
        reqs.append(f"pynchy{version or ''}")
    elif opts.source == "local":
        source = Path(opts.source_path).expanduser() if opts.source_path else build.CHECKOUT
        if not (source / "pyproject.toml").is_file():
            raise DeployError(f"pynchy_source_path: {source} is not a pynchy checkout")
        add_local(source)
    else:
        reqs.append(opts.source)
    if opts.ray_role:  # a Ray node: the pynchy[ray] extra (deploy/tasks/ray.py)
        reqs[0] = _with_ray_extra(reqs[0])
    base = Path(opts.source_path).expanduser() if opts.source_path else build.CHECKOUT
    for plugin in map(str, opts.plugins):
        local = build.is_local(plugin, base)
        if local:
            add_local(local)
        else:
            reqs.append(plugin)
    return reqs, wheels


@deploy("Install pynchy", data_defaults=DEFAULTS)
def install_pynchy() -> list[OperationMeta]:
    """Returns the operations whose change means the service should restart."""
    opts = options(host)
    if not opts.install:
        return []
    reqs, wheels = requirements(opts)

    files.directory(name=f"Create {opts.prefix}", path=opts.prefix, mode="755")
    pip.venv(name="Create the virtual environment", path=opts.venv, python=opts.python)

    pip_conf = f"{opts.venv}/pip.conf"
    if opts.pip_config:
        files.put(
            name="Write the virtualenv's pip.conf",
            src=StringIO(_pip_conf(opts.pip_config)),
            dest=pip_conf,
            mode="644",
        )
    else:
        files.file(name="No pip.conf in the virtualenv", path=pip_conf, present=False)

    if wheels:
        files.directory(name=f"Create {opts.dist_dir}", path=opts.dist_dir, mode="755")
        for wheel in wheels:
            files.put(
                name=f"Upload {wheel.name}",
                src=str(wheel.path),
                dest=f"{opts.dist_dir}/{wheel.name}",
                mode="644",
            )
        absent_except(
            name="Remove wheels of earlier deploys",
            directory=opts.dist_dir,
            pattern="*.whl",
            keep=[w.name for w in wheels],
        )
    fingerprint = hashlib.sha256(
        "\n".join([*reqs, *(w.sha256 for w in wheels), _pip_conf(opts.pip_config)]).encode()
    ).hexdigest()
    installed = venv_install(
        name="pip install pynchy and its plugins",
        venv=opts.venv,
        requirements=reqs,
        reinstall=[f"{opts.dist_dir}/{w.name}" for w in wheels],
        upgrade=opts.upgrade,
        fingerprint=fingerprint,
    )
    if opts.bin_link:
        files.link(
            name=f"Link {opts.bin_link}",
            path=opts.bin_link,
            target=opts.pynchy_bin,
        )
    return [installed]
