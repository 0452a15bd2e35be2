"""Channels carry messages between people and pynchy. The terminal channel is built in
(its clients are `pynchy chat` and the local API); others come from plugins."""

from __future__ import annotations

from typing import Any, Protocol

from pynchy_cli.core.groups import Group
from pynchy_cli.core.voice.kit import Speech, VoiceNote


class ChannelHost(Protocol):
    """What a channel may call on the service (pynchy_cli.testing.FakeChannelHost is one in
    memory, with the same rules, for a channel's tests)."""

    def group_for_chat(self, channel: str, chat_id: str) -> Group | None:
        """The group mapped to this chat (pynchy groups add NAME --channel C --chat ID)."""

    def last_platform_id(self, channel: str, chat_id: str) -> str | None:
        """The newest platform message id stored for this chat: where to resume after a
        reconnect (fetch what came after it, where the platform allows)."""

    async def receive(
        self,
        group: Group,
        sender: str,
        content: str,
        *,
        channel: str,
        platform_id: str | None = None,
        voice: VoiceNote | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store (committed) and route a message; returns (message, queued). With `voice`
        (a voice or audio message the channel downloaded), `content` is its caption or ""
        and pynchy keeps the audio and stores `[voice] <transcript>` after it."""


class Channel(Protocol):
    name: str

    async def start(self, host: ChannelHost) -> None:
        """Connect and begin handing received messages to host.receive."""

    async def send(self, group: Group, text: str, *, key: str, kind: str) -> None:
        """Deliver text to the group's chat. `key` is unique per reply, for idempotent
        retries; `kind` is assistant or host (render host notices visibly apart)."""

    async def typing(self, group: Group, active: bool) -> None:
        """Show or clear a typing indicator while an agent runs."""

    async def stop(self) -> None:
        """Disconnect."""


class VoiceChannel(Channel, Protocol):
    """A channel that can also post audio: pynchy calls send_voice after a reply's text
    went out, when the group's replies are spoken (core.voice.desk). Optional."""

    async def send_voice(self, group: Group, speech: Speech, *, key: str) -> None:
        """Post the spoken reply (OGG/Opus or WAV, see Speech); `key` is the reply's key,
        so a retry posts nothing twice. Raise when it cannot be posted (logged)."""


class TerminalChannel:
    """Replies are already stored and published on the bus; `pynchy chat` reads them."""

    name = "terminal"

    async def start(self, host: ChannelHost) -> None:
        return None

    async def send(self, group: Group, text: str, *, key: str, kind: str) -> None:
        return None

    async def typing(self, group: Group, active: bool) -> None:
        return None

    async def stop(self) -> None:
        return None
