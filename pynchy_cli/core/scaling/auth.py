"""Ray's token: every node and every driver of a pynchy cluster runs with RAY_AUTH_MODE=token.

pynchy keeps the token in its data folder (`ray-token`, mode 600; Ray's own default,
~/.ray/auth_token, is written readable by everyone) and points Ray at it with
RAY_AUTH_TOKEN_PATH. A token already given in the environment (RAY_AUTH_TOKEN or
RAY_AUTH_TOKEN_PATH) wins. Without either and without pynchy's file, Ray reads
~/.ray/auth_token. This module never imports ray.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from pathlib import Path

from pynchy_cli.core.file_modes import PRIVATE_FILE
from pynchy_cli.core.paths import Paths

TOKEN_FILE = "ray-token"
# Ray turns a loopback node address into this machine's LAN address (so that other machines
# could join) unless told that this is a single-machine setup; then it listens on loopback.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def token_path(paths: Paths) -> Path:
    return paths.data_dir / TOKEN_FILE


def ensure_token(paths: Paths) -> Path:
    """pynchy's Ray token file, created (600) when missing."""
    path = token_path(paths)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path


def auth_env(paths: Paths, *, create: bool, token_file: Path | None = None) -> dict[str, str]:
    """The environment that makes Ray use token auth with pynchy's token (or a given file).
    `create`: make the token when there is none (a new cluster's head)."""
    env = {"RAY_AUTH_MODE": "token"}
    if token_file is not None:
        env["RAY_AUTH_TOKEN_PATH"] = str(token_file.expanduser().resolve())
    elif not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        path = ensure_token(paths) if create else token_path(paths)
        if path.exists():
            env["RAY_AUTH_TOKEN_PATH"] = str(path)
    return env


def prepare_driver(paths: Paths, address: str | None) -> None:
    """Set Ray's environment for serve's driver. Ray reads it when first imported, so this
    runs before that: token auth (a new token for an embedded Ray), and loopback kept as
    loopback for an embedded Ray or a cluster on 127.0.0.1."""
    if "ray" in sys.modules:
        raise RuntimeError("prepare_driver must run before ray is imported")
    os.environ.update(auth_env(paths, create=address is None))
    if address is None or is_loopback(address_host(address)):
        os.environ[LOOPBACK_ENV] = "0"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address_host(address: str) -> str:
    """The host part of HOST:PORT (an IPv6 host in brackets)."""
    host = address.rsplit(":", 1)[0] if ":" in address else address
    return host.strip("[]")
