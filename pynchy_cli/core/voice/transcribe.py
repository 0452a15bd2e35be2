"""Speech to text through an OpenAI-compatible `POST /v1/audio/transcriptions` (multipart:
`file`, `model`; answer `{"text": ...}`): OpenAI itself, or a local whisper server as an
account with its base_url. Called on the host with the account's credentials.

A failure is a TranscriptionFailed whose `reason` is safe to show in the chat (it never
quotes the server, which may echo the key); `detail` is for serve's log, key removed.
"""

from __future__ import annotations

from pynchy_cli.core.config import Settings
from pynchy_cli.core.voice.audio_files import extension_for
from pynchy_cli.core.voice.kit import AUDIO_EXTENSIONS, audio_type


class TranscriptionFailed(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason


def _account(settings: Settings) -> tuple[str | None, str]:
    """(api key, base url) of the transcription account, or TranscriptionFailed."""
    name = settings.voice.account
    if not name:
        raise TranscriptionFailed(
            "no transcription account is set",
            "set [voice] account to an [accounts.NAME] of an OpenAI-compatible server",
        )
    account = settings.accounts.get(name)
    if account is None:
        raise TranscriptionFailed(f"the transcription account {name!r} is not configured")
    if account.provider != "openai":
        raise TranscriptionFailed(
            f"the transcription account {name!r} is not OpenAI-compatible (provider"
            f" {account.provider})"
        )
    from pynchy_cli.core.agent_cores.openai import DEFAULT_BASE_URL

    key = account.api_key.get_secret_value() if account.api_key else None
    return key, account.base_url or DEFAULT_BASE_URL


async def transcribe(settings: Settings, data: bytes, mime: str) -> str:
    """The text spoken in `data` (audio of type `mime`); empty when nothing was heard."""
    if audio_type(mime) not in AUDIO_EXTENSIONS:
        raise TranscriptionFailed(f"pynchy cannot transcribe audio of type {audio_type(mime)}")
    key, base_url = _account(settings)
    # The SDK (0.3 s, 30 MB) only once a voice message arrives: serve idles without it.
    import httpx2
    import openai

    from pynchy_cli.core.agent_cores.openai import NO_KEY

    voice = settings.voice
    client = openai.AsyncOpenAI(
        api_key=key or NO_KEY,
        base_url=base_url,
        max_retries=1,
        timeout=httpx2.Timeout(voice.timeout, connect=10.0),
    )
    extra = {"language": voice.language} if voice.language else {}
    try:
        result = await client.audio.transcriptions.create(
            model=voice.model, file=(f"voice{extension_for(mime)}", data, mime), **extra
        )
    except openai.APIStatusError as exc:
        raise TranscriptionFailed(_status_reason(exc.status_code), _clean(exc, key)) from None
    except openai.APITimeoutError:
        raise TranscriptionFailed("the transcription server did not answer in time") from None
    except openai.APIConnectionError as exc:
        raise TranscriptionFailed(
            "the transcription server is not reachable", f"{base_url}: {_clean(exc, key)}"
        ) from None
    except openai.APIError as exc:
        raise TranscriptionFailed(
            "the transcription server's answer was not understood", _clean(exc, key)
        ) from None
    finally:
        await client.close()
    text = result if isinstance(result, str) else getattr(result, "text", None)
    if not isinstance(text, str):
        raise TranscriptionFailed("the transcription server's answer has no text")
    return text.strip()


def _status_reason(status: int) -> str:
    if status in (401, 403):
        return f"the transcription server refused the account's key ({status})"
    if status == 413:
        return "the transcription server found the audio too large (413)"
    if status == 429:
        return "the transcription server is rate limited (429)"
    return f"the transcription server answered {status}"


def _clean(exc: BaseException, key: str | None) -> str:
    """The exception's text for the log, without the key (servers quote it in errors)."""
    text = f"{type(exc).__name__}: {exc}"
    return text.replace(key, "<key>") if key else text
