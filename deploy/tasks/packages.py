"""System packages pynchy needs, and extra CA certificates to trust (TLS-inspecting proxies)."""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt, files, server
from pyinfra.operations.util import any_changed

from deploy.util.defaults import DEFAULTS, Options, options

CA_DIR = "/usr/local/share/ca-certificates"


def wanted(opts: Options) -> list[str]:
    """The Debian packages for everything but the container runtime (its own step)."""
    pkgs = ["python3", "python3-venv", "ca-certificates"]
    specs = [opts.source, *map(str, opts.plugins)]
    if any(s.startswith("git+") for s in specs):
        pkgs.append("git")
    if opts.service or opts.ray_role or (opts.periodic and opts.scheduler == "systemd"):
        pkgs.append("systemd")
    if opts.periodic and opts.scheduler == "cron":
        pkgs.append("cron")
    pkgs.extend(str(p) for p in opts.extra_packages)
    return list(dict.fromkeys(pkgs))


def apt_install(name: str, packages: list[str], opts: Options, recommends: bool = True) -> None:
    """apt-get install, refreshing the package lists first only if something is missing."""
    installed = host.get_fact(DebPackages) or {}
    if any(p not in installed for p in packages):
        apt.update(name="Refresh the package lists", cache_time=opts.apt_cache_time)
    apt.packages(name=name, packages=packages, no_recommends=not recommends)


@deploy("System packages", data_defaults=DEFAULTS)
def system_packages() -> None:
    opts = options(host)
    if opts.install_packages:
        # Only what pynchy names: no recommended extras (cron would bring a mail server).
        apt_install("Install system packages", wanted(opts), opts, recommends=False)

    uploads = []
    for cert in opts.ca_certificates:
        local = Path(str(cert)).expanduser()
        if not local.is_file():
            raise DeployError(f"pynchy_ca_certificates: {local} is not a file on the deployer")
        uploads.append(
            files.put(
                name=f"Trust CA certificate {local.name}",
                src=str(local),
                dest=f"{CA_DIR}/pynchy-{local.stem}.crt",
                user="root",
                group="root",
                mode="644",
                create_remote_dir=True,
            )
        )
    if uploads:
        server.shell(
            name="Update the CA bundle",
            commands=["update-ca-certificates"],
            _if=any_changed(*uploads),
        )
