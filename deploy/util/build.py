"""Wheels built on the deployer from local source folders, once per pyinfra process.

`pip wheel --no-deps` builds through the project's PEP 517 backend (hatchling for pynchy,
whose wheels are reproducible: the same sources give the same bytes, so an unchanged
checkout uploads nothing on the next run).
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyinfra.api.exceptions import DeployError

CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Wheel:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


_built: dict[Path, Wheel] = {}
_tmp: list[Path] = []


def _workdir() -> Path:
    if not _tmp:
        _tmp.append(Path(tempfile.mkdtemp(prefix="pynchy-deploy-wheels-")))
        atexit.register(shutil.rmtree, _tmp[0], ignore_errors=True)
    return _tmp[0]


def is_local(spec: str, base: Path = CHECKOUT) -> Path | None:
    """The folder a plugin/source entry names, if it is a local project folder."""
    if "://" in spec or spec.startswith("git+"):
        return None
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base / path
    return path.resolve() if (path / "pyproject.toml").is_file() else None


def wheel(source: Path) -> Wheel:
    """Build (once) and return the wheel of the project in `source`."""
    source = source.resolve()
    if source in _built:
        return _built[source]
    if not (source / "pyproject.toml").is_file():
        raise DeployError(f"{source} has no pyproject.toml: not a Python project to build")
    out = _workdir() / hashlib.sha1(str(source).encode()).hexdigest()[:12]
    out.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "-w",
        str(out),
        str(source),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(out.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise DeployError(f"building a wheel of {source} failed: {tail or 'no wheel produced'}")
    _built[source] = Wheel(wheels[0])
    return _built[source]
