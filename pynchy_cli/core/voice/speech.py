"""Text to speech with a local engine, on the host: espeak-ng (Debian's `espeak-ng`) or
piper, then OGG/Opus through opusenc (Debian's `opus-tools`) or ffmpeg when one is
installed, so Telegram shows a voice message; without an encoder the speech stays WAV.

The text reaches the engine on its standard input, never as an argument (a reply that
starts with '-' must not become an option), and each program runs with a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
import wave
from pathlib import Path

from pynchy_cli.core.voice.kit import Speech
from pynchy_cli.core.voice.settings import VoiceSettings

log = logging.getLogger("pynchy.voice")

RUN_LIMIT = 60.0  # seconds one engine or encoder run may take
_FENCED = re.compile(r"```.*?(```|$)", re.DOTALL)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_URL = re.compile(r"https?://\S+")
_MARKS = re.compile(r"[*_`#>|~]+")


class SpeechUnavailable(Exception):
    """No speech could be made: the reason, for serve's log."""


def speakable(text: str, limit: int) -> str:
    """A reply as it is read aloud: code blocks and addresses left out, Markdown marks
    dropped, cut after `limit` characters at a sentence or word end."""
    text = _FENCED.sub(" (code left out) ", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("(a link)", text)
    text = " ".join(_MARKS.sub(" ", text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end < limit // 2:
        end = cut.rfind(" ")
    return cut[: end + 1 if end > 0 else limit].rstrip() + " …"


def engine_command(settings: VoiceSettings, wav: Path) -> list[str]:
    """The command that reads text on stdin and writes `wav`."""
    if settings.tts == "piper":
        program = shutil.which("piper")
        if program is None:
            raise SpeechUnavailable("piper is not installed (pip install piper-tts)")
        if not settings.voice:
            raise SpeechUnavailable("piper needs a voice model: set [voice] voice = PATH.onnx")
        return [program, "--model", settings.voice, "--output_file", str(wav)]
    program = shutil.which("espeak-ng")
    if program is None:
        raise SpeechUnavailable("espeak-ng is not installed (apt-get install espeak-ng)")
    voice = ["-v", settings.voice] if settings.voice else []
    return [program, *voice, "--stdin", "-w", str(wav)]


def opus_command(wav: Path, ogg: Path) -> list[str] | None:
    """The command that turns `wav` into OGG/Opus, or None when no encoder is installed."""
    if program := shutil.which("opusenc"):
        return [program, "--quiet", "--bitrate", "32", str(wav), str(ogg)]
    if program := shutil.which("ffmpeg"):
        return [program, "-nostdin", "-loglevel", "error", "-y", "-i", str(wav)] + [
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            str(ogg),
        ]
    return None


async def _run(command: list[str], text: str = "") -> None:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(text.encode()), RUN_LIMIT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise SpeechUnavailable(
            f"{Path(command[0]).name} took longer than {RUN_LIMIT:g}s"
        ) from None
    if process.returncode != 0:
        why = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise SpeechUnavailable(
            f"{Path(command[0]).name} failed (exit {process.returncode}): {why[0][:200]}"
        )


def _seconds(wav: Path) -> float:
    try:
        with wave.open(str(wav)) as audio:
            return audio.getnframes() / float(audio.getframerate() or 1)
    except (wave.Error, EOFError, OSError) as exc:
        raise SpeechUnavailable(f"the engine wrote no usable WAV ({exc})") from None


async def synthesize(text: str, settings: VoiceSettings) -> Speech:
    """`text` spoken: OGG/Opus when an encoder is installed, else WAV."""
    words = speakable(text, settings.max_speech_chars)
    if not words:
        raise SpeechUnavailable("the reply has nothing to say aloud")
    with tempfile.TemporaryDirectory(prefix="pynchy-speech-") as folder:
        wav, ogg = Path(folder) / "reply.wav", Path(folder) / "reply.ogg"
        await _run(engine_command(settings, wav), words)
        duration = _seconds(wav)
        encode = opus_command(wav, ogg)
        if encode is not None:
            try:
                await _run(encode)
                return Speech(ogg.read_bytes(), "audio/ogg", "reply.ogg", duration, words)
            except SpeechUnavailable as exc:  # the WAV still carries the words
                log.warning("voice: OGG/Opus encoding failed, sending WAV: %s", exc)
        return Speech(wav.read_bytes(), "audio/wav", "reply.wav", duration, words)
