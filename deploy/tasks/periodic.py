"""Periodic agents: `pynchy agent run --periodic NAME` on a schedule, by systemd timers or cron.

`pynchy_periodic_agents` lists `{"name": ..., "schedule": ...}`; the schedule is a systemd
OnCalendar expression ("*-*-* 07:00:00", "hourly") with `pynchy_scheduler = "systemd"`, or a
cron expression ("0 7 * * *", "@hourly") with "cron". Timers and cron entries of agents that
are no longer listed are removed, and switching scheduler removes the other one's files.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError
from pyinfra.facts.files import FindFiles
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from deploy.tasks.service import JINJA, TEMPLATES, _systemd_quote
from deploy.util.defaults import DEFAULTS, Options, PeriodicAgent, options
from deploy.util.ops import unit_disabled, unit_enabled

UNIT_DIR = "/etc/systemd/system"
CRON_FILE = "/etc/cron.d/pynchy"


def _check_cron(agent: PeriodicAgent) -> None:
    fields = agent.schedule.split()
    if not (len(fields) == 5 or (len(fields) == 1 and fields[0].startswith("@"))):
        raise DeployError(
            f"periodic agent {agent.name}: {agent.schedule!r} is not a cron schedule "
            "(five fields, or @hourly/@daily/...)"
        )


def _stale_units(opts: Options, keep: set[str]) -> list[str]:
    found = host.get_fact(FindFiles, path=UNIT_DIR, fname="pynchy-periodic-*.timer", maxdepth=1)
    stale = []
    for path in sorted(found or []):
        unit = path.rsplit("/", 1)[-1].removesuffix(".timer")
        if unit not in keep:
            stale.append(unit)
    return stale


def _remove_timer(opts: Options, unit: str) -> None:
    if opts.start_services:
        systemd.service(name=f"Stop {unit}.timer", service=f"{unit}.timer", running=False)
    unit_disabled(name=f"Disable {unit}.timer", unit=f"{unit}.timer")
    for suffix in (".timer", ".service"):
        files.file(name=f"Remove {unit}{suffix}", path=f"{UNIT_DIR}/{unit}{suffix}", present=False)


def _timers(opts: Options) -> None:
    environment = [_systemd_quote(f"{k}={v}") for k, v in sorted(opts.service_environment.items())]
    written = []
    for agent in opts.periodic:
        command = [opts.pynchy_bin, "agent", "run", "--periodic", agent.name]
        service = files.template(
            name=f"Install {agent.unit}.service",
            src=str(TEMPLATES / "pynchy-periodic.service.j2"),
            dest=f"{UNIT_DIR}/{agent.unit}.service",
            mode="644",
            jinja_env_kwargs=JINJA,
            opts=opts,
            agent=agent,
            environment=environment,
            exec_start=shlex.join(command),
        )
        timer = files.template(
            name=f"Install {agent.unit}.timer",
            src=str(TEMPLATES / "pynchy-periodic.timer.j2"),
            dest=f"{UNIT_DIR}/{agent.unit}.timer",
            mode="644",
            jinja_env_kwargs=JINJA,
            opts=opts,
            agent=agent,
        )
        unit_enabled(name=f"Enable {agent.unit}.timer", unit=f"{agent.unit}.timer")
        written.append((agent, service, timer))
    if not opts.start_services or not written:
        return
    systemd.daemon_reload(
        name="Reload systemd (timers changed)",
        _if=any_changed(*(op for _, service, timer in written for op in (service, timer))),
    )
    for agent, service, timer in written:
        systemd.service(
            name=f"Restart {agent.unit}.timer (changed)",
            service=f"{agent.unit}.timer",
            running=True,
            restarted=True,
            _if=any_changed(service, timer),
        )
        systemd.service(
            name=f"Start {agent.unit}.timer", service=f"{agent.unit}.timer", running=True
        )


@deploy("Periodic agents", data_defaults=DEFAULTS)
def periodic_agents() -> None:
    opts = options(host)
    use_timers = opts.scheduler == "systemd"
    keep = {agent.unit for agent in opts.periodic} if use_timers else set()
    for unit in _stale_units(opts, keep):
        _remove_timer(opts, unit)
    if use_timers:
        _timers(opts)
    if opts.scheduler == "cron" and opts.periodic:
        for agent in opts.periodic:
            _check_cron(agent)
        files.template(
            name=f"Install {CRON_FILE}",
            src=str(TEMPLATES / "pynchy.cron.j2"),
            dest=CRON_FILE,
            user="root",
            group="root",
            mode="644",
            create_remote_dir=True,
            jinja_env_kwargs=JINJA,
            opts=opts,
            agents=opts.periodic,
        )
    else:
        files.file(name=f"No {CRON_FILE}", path=CRON_FILE, present=False)
