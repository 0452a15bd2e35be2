"""One-time login links for the web page: `pynchy web` makes a code, serve takes it once.

The CLI and serve are two processes of the same user, so the code travels through the
data folder: a 600 file in the 700 folder `web-links/`, named by the code's SHA-256 (the
code itself is never stored) and holding its expiry and the page to open. Taking a code
removes its file first; only the one process whose unlink succeeds logs in with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from pathlib import Path

from pynchy_cli.core.file_modes import PRIVATE_FILE, private_dir
from pynchy_cli.core.paths import Paths

LINK_SECONDS = 120  # long enough to reach a browser, short enough to be worth nothing later
LINKS_DIR = "web-links"


def _links_dir(paths: Paths) -> Path:
    return paths.data_dir / LINKS_DIR


def _file_for(paths: Paths, code: str) -> Path:
    return _links_dir(paths) / hashlib.sha256(code.encode()).hexdigest()


def create_link_code(paths: Paths, page: str = "/web/", ttl: float = LINK_SECONDS) -> str:
    """A new single-use code that logs a browser in and opens `page` (a /web/ path)."""
    if not page.startswith("/web/"):
        raise ValueError(f"not a web page: {page!r}")
    folder = private_dir(_links_dir(paths), quiet=True)
    _forget_expired(folder)
    code = secrets.token_urlsafe(24)
    fd = os.open(_file_for(paths, code), os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        json.dump({"expires": time.time() + ttl, "page": page}, fh)
    return code


def take_link_code(paths: Paths, code: str) -> str | None:
    """The page a valid code opens, once; None for an unknown, used or expired code."""
    if not code or len(code) > 100:
        return None
    path = _file_for(paths, code)
    try:
        data = json.loads(path.read_text())
        path.unlink()  # the single use: a second taker finds nothing
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or time.time() > float(data.get("expires", 0)):
        return None
    page = str(data.get("page", "/web/"))
    return page if page.startswith("/web/") else "/web/"


def _forget_expired(folder: Path) -> None:
    now = time.time()
    for path in folder.iterdir():
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            if now > float(json.loads(path.read_text()).get("expires", 0)):
                path.unlink()
