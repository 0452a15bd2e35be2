"""Screenshots into the group's workspace, where the agent reads them at /workspace/...

Written by the host through pynchy's checked helper (no symlink followed, nothing outside
the workspace, a planted link replaced rather than written through). When pynchy runs as
root the workspace belongs to the agent's user; the file and its folder are handed to the
workspace's owner through folder descriptors, never by path, so a link planted on the way
cannot redirect the chown.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import struct
import time
from pathlib import Path
from typing import Any

from pynchy_cli import write_workspace_file

FOLDER = "screenshots"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_PNG = b"\x89PNG\r\n\x1a\n"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ShotError(Exception):
    pass


def png_size(data: bytes) -> tuple[int, int]:
    if not data.startswith(_PNG) or data[12:16] != b"IHDR":
        raise ShotError("the browser's screenshot is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def file_name(name: str | None) -> str:
    if not name:
        return time.strftime("page-%Y%m%d-%H%M%S-") + secrets.token_hex(2) + ".png"
    stem = name.removesuffix(".png")
    if not _NAME.match(stem) or ".." in stem:
        raise ShotError("a screenshot name is 1-80 letters, digits, _ - or . (no folders)")
    return stem + ".png"


def _hand_over(workspace: Path, name: str) -> None:
    owner = os.stat(workspace)
    if os.geteuid() != 0 or owner.st_uid == 0:
        return
    with contextlib.suppress(OSError):
        root = os.open(workspace, _DIR_FLAGS)
        try:
            folder = os.open(FOLDER, _DIR_FLAGS, dir_fd=root)
            try:
                os.fchown(folder, owner.st_uid, owner.st_gid)
                os.chown(name, owner.st_uid, owner.st_gid, dir_fd=folder, follow_symlinks=False)
            finally:
                os.close(folder)
        finally:
            os.close(root)


def save(workspace: str, name: str | None, data: bytes) -> dict[str, Any]:
    width, height = png_size(data)
    filename = file_name(name)
    rel = f"{FOLDER}/{filename}"
    root = Path(workspace)
    write_workspace_file(root, rel, data, make_folders=True)
    _hand_over(root, filename)
    return {
        "path": f"/workspace/{rel}",
        "workspace_path": rel,
        "width": width,
        "height": height,
        "bytes": len(data),
    }
