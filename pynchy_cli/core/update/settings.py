"""[admin] in config.toml: the listener for `POST /admin/update`, off unless `listen` is set."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


def split_host_port(value: str) -> tuple[str, int]:
    """("100.64.0.5", 8788) from "100.64.0.5:8788"; IPv6 as "[fd7a::1]:8788"."""
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'{value!r} is not HOST:PORT, e.g. "100.64.0.5:8788"')
    return host, int(port)


class AdminSettings(BaseModel):
    listen: str | None = Field(
        None,
        description='HOST:PORT of the admin listener, e.g. a tailnet address "100.64.0.5:8788";'
        " unset: no admin listener at all",
    )
    install_dir: str | None = Field(
        None,
        description="the git checkout to pull; unset: found from how pynchy is installed",
    )
    timeout: int = Field(300, gt=0, description="seconds git or pip may take")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_host_port(value)
        return value
