"""Voice messages' audio, kept on the host: DATA/audio/GROUP/STAMP-HASH.EXT.

Folders are 700 and files 600, created without following a symlink and never replaced;
the name is pynchy's own (time and content hash) with an extension from a fixed table,
never the platform's file name, and nothing there is ever executed. No container sees
this folder: agents get the transcript, not the audio.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from pynchy_cli.core.file_modes import private_dir
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.voice.kit import AUDIO_EXTENSIONS, audio_type
from pynchy_cli.core.workspace_files import write_file

AUDIO_FOLDER = "audio"


def audio_root(paths: Paths) -> Path:
    return paths.data_dir / AUDIO_FOLDER


def extension_for(mime: str) -> str:
    """The file extension of an audio type; `.audio` for one pynchy does not know."""
    return AUDIO_EXTENSIONS.get(audio_type(mime), ".audio")


def save_audio(paths: Paths, group: str, data: bytes, mime: str) -> str:
    """Keep the audio; returns its path relative to the data folder."""
    folder = private_dir(private_dir(audio_root(paths)) / group)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{digest[:16]}{extension_for(mime)}"
    # The same audio again within the second: the file already holds exactly these bytes.
    write_file(folder, name, data, replace=False, mode=0o600)
    return f"{AUDIO_FOLDER}/{group}/{name}"
