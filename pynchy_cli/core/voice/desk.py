"""Voice in `pynchy serve`. In: a channel's VoiceNote becomes a message whose text is
`[voice] <transcript>` (after any caption) and whose `audio` column (JSON) references the
audio kept on the host; a failure stores `[voice message: could not transcribe: WHY]`,
WHY never quoting the server. Out: after a reply's text went out, a spoken copy goes to
channels that can send audio, when the group asks for voice.

Whether a group's replies are spoken: its own flag (`pynchy groups set G --voice` or
`--no-voice`, the `voice` column), else `[voice] speak`: never, voice_notes (when the
message answered was a voice message) or always.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import Group
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.serve.messages import MAX_MESSAGE_CHARS
from pynchy_cli.core.voice.audio_files import save_audio
from pynchy_cli.core.voice.group_voice import answers_voice, group_voice
from pynchy_cli.core.voice.kit import VoiceNote, audio_type, size_problem
from pynchy_cli.core.voice.speech import SpeechUnavailable, synthesize
from pynchy_cli.core.voice.transcribe import TranscriptionFailed, transcribe

log = logging.getLogger("pynchy.voice")

VOICE_MARK = "[voice]"


def voice_content(caption: str, transcript: str | None, problem: str | None = None) -> str:
    """What is stored (and what the agent reads) for a voice message."""
    if problem:
        line = f"[voice message: could not transcribe: {problem}]"
    elif not transcript:
        line = "[voice message: no speech recognised]"
    else:
        room = MAX_MESSAGE_CHARS - len(caption) - len(VOICE_MARK) - 20
        if len(transcript) > room:
            transcript = transcript[:room] + " … (cut)"
        line = f"{VOICE_MARK} {transcript}"
    caption = caption.strip()
    return f"{caption}\n{line}" if caption else line


class VoiceDesk:
    def __init__(self, db: Database, paths: Paths, settings: Settings):
        self.db = db
        self.paths = paths
        self.settings = settings
        self._told: set[str] = set()

    # --- in ------------------------------------------------------------------------------

    def stored(self, channel: str, platform_id: str | None) -> dict[str, Any] | None:
        """The message already stored under this platform id: a redelivered voice message
        is neither kept nor transcribed again."""
        if platform_id is None:
            return None
        rows = list(
            self.db["messages"].rows_where(
                "channel = ? and platform_id = ?", [channel, platform_id], limit=1
            )
        )
        return rows[0] if rows else None

    async def take(self, group: Group, note: VoiceNote, caption: str) -> tuple[str, str]:
        """(content, audio JSON) for a voice message: the audio kept, then transcribed."""
        voice = self.settings.voice
        record: dict[str, Any] = {
            "mime": audio_type(note.mime),
            "bytes": len(note.data),
            "source": note.reference,
        }
        if note.duration is not None:
            record["duration"] = round(float(note.duration), 2)
        problem = note.problem or size_problem(len(note.data), voice.max_audio_bytes)
        if problem is None and not note.data:
            problem = "the audio is empty"
        transcript = None
        if problem is None:
            record["sha256"] = hashlib.sha256(note.data).hexdigest()
            if voice.keep_audio:
                try:
                    record["file"] = save_audio(self.paths, group.name, note.data, note.mime)
                except (OSError, PynchyError) as exc:  # transcribe anyway; the text is what counts
                    log.error("voice: audio of group=%s not kept: %s", group.name, exc)
            try:
                transcript = await transcribe(self.settings, note.data, note.mime)
            except TranscriptionFailed as exc:
                problem = exc.reason
                log.warning("voice: transcription failed group=%s: %s", group.name, exc.detail)
        if problem:
            record["problem"] = problem
        record["transcribed"] = problem is None
        return voice_content(caption, transcript, problem), json.dumps(record)

    # --- out -----------------------------------------------------------------------------

    def wants_voice(self, group: Group, watermark: int) -> bool:
        own = group_voice(self.db, group.id)
        if own is not None:
            return own
        speak = self.settings.voice.speak
        if speak == "voice_notes":
            return answers_voice(self.db, group.id, watermark)
        return speak == "always"

    async def speak_reply(
        self, channel: Any, group: Group, text: str, key: str, watermark: int
    ) -> None:
        """Send a spoken copy of a reply whose text already went out. Never raises: the
        text is the reply, the audio a courtesy."""
        try:
            if not self.wants_voice(group, watermark):
                return
            send = getattr(channel, "send_voice", None)
            if send is None:
                self._tell_once(f"channel {channel.name} cannot send audio; its replies stay text")
                return
            speech = await synthesize(text, self.settings.voice)
            await send(group, speech, key=key)
            log.info(
                "voice: spoken reply out group=%s type=%s bytes=%d",
                group.name,
                speech.mime,
                len(speech.data),
            )
        except SpeechUnavailable as exc:
            self._tell_once(f"replies are not spoken: {exc}")
        except Exception as exc:  # a channel's failure: the text reply is out already
            why = exc.line() if isinstance(exc, PynchyError) else repr(exc)
            log.error("voice: spoken reply to group=%s failed: %s", group.name, why)

    def _tell_once(self, what: str) -> None:
        if what not in self._told:
            self._told.add(what)
            log.warning("voice: %s", what)
