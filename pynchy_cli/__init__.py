"""pynchy: a personal AI assistant whose agents run in containers.

The names exported here are pynchy's public API for plugins; a plugin imports only these:

    from pynchy_cli import hookimpl, Runtime, ContainerSpec, ContainerHandle

They are loaded on first use (module __getattr__), so `import pynchy_cli` stays cheap and
the copy inside the agent image, which has only the container side, is unaffected.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    # hooks
    "hookimpl": ("pynchy_cli.core.plugins.hookspecs", "hookimpl"),
    "Problem": ("pynchy_cli.core.plugins.hookspecs", "Problem"),
    "RuntimeFactory": ("pynchy_cli.core.plugins.hookspecs", "RuntimeFactory"),
    "ChannelFactory": ("pynchy_cli.core.plugins.hookspecs", "ChannelFactory"),
    "AgentCoreFactory": ("pynchy_cli.core.plugins.hookspecs", "AgentCoreFactory"),
    "McpServerFactory": ("pynchy_cli.core.plugins.hookspecs", "McpServerFactory"),
    "RegisterRuntime": ("pynchy_cli.core.plugins.hookspecs", "RegisterRuntime"),
    "RegisterChannel": ("pynchy_cli.core.plugins.hookspecs", "RegisterChannel"),
    "RegisterAgentCore": ("pynchy_cli.core.plugins.hookspecs", "RegisterAgentCore"),
    "RegisterMcpServer": ("pynchy_cli.core.plugins.hookspecs", "RegisterMcpServer"),
    "RegisterSkill": ("pynchy_cli.core.plugins.hookspecs", "RegisterSkill"),
    "RegisterAgent": ("pynchy_cli.core.plugins.hookspecs", "RegisterAgent"),
    "AgentProfile": ("pynchy_cli.core.agent.profiles", "AgentProfile"),
    # test helpers for plugins: `from pynchy_cli import testing` (the module itself)
    "testing": ("pynchy_cli.testing", ""),
    # runtimes
    "Runtime": ("pynchy_cli.core.runtimes.base", "Runtime"),
    "ContainerSpec": ("pynchy_cli.core.runtimes.base", "ContainerSpec"),
    "ContainerHandle": ("pynchy_cli.core.runtimes.base", "ContainerHandle"),
    "Mount": ("pynchy_cli.core.runtimes.base", "Mount"),
    "RUN_LABEL": ("pynchy_cli.core.runtimes.base", "LABEL"),
    "GROUP_LABEL": ("pynchy_cli.core.runtimes.base", "LABEL_GROUP"),
    # runtime plugin helpers (the built-in runtimes use them too)
    "PollingRuntime": ("pynchy_cli.core.runtimes.polling", "PollingRuntime"),
    "ExitCodes": ("pynchy_cli.core.runtimes.polling", "ExitCodes"),
    "poll_exit": ("pynchy_cli.core.runtimes.polling", "poll_exit"),
    "memory_bytes": ("pynchy_cli.core.runtimes.common", "memory_bytes"),
    "labels_of": ("pynchy_cli.core.runtimes.common", "labels_of"),
    "text_lines": ("pynchy_cli.core.runtimes.common", "text_lines"),
    "follow_lines": ("pynchy_cli.core.runtimes.common", "follow_lines"),
    # channels
    "Channel": ("pynchy_cli.core.serve.channels", "Channel"),
    "ChannelHost": ("pynchy_cli.core.serve.channels", "ChannelHost"),
    "Group": ("pynchy_cli.core.groups", "Group"),
    # channel helpers (pynchy_cli.core.channel_kit)
    "GroupFinder": ("pynchy_cli.core.channel_kit", "GroupFinder"),
    "split_text": ("pynchy_cli.core.channel_kit", "split_text"),
    "cut_to_fit": ("pynchy_cli.core.channel_kit", "cut_to_fit"),
    "TypingKeeper": ("pynchy_cli.core.channel_kit", "TypingKeeper"),
    "Backoff": ("pynchy_cli.core.channel_kit", "Backoff"),
    "TokenRedactor": ("pynchy_cli.core.channel_kit", "TokenRedactor"),
    "SentRecord": ("pynchy_cli.core.channel_kit", "SentRecord"),
    "channel_state_dir": ("pynchy_cli.core.paths", "channel_state_dir"),
    # voice messages in, spoken replies out (pynchy_cli.core.voice.kit)
    "VoiceNote": ("pynchy_cli.core.voice.kit", "VoiceNote"),
    "Speech": ("pynchy_cli.core.voice.kit", "Speech"),
    "is_audio": ("pynchy_cli.core.voice.kit", "is_audio"),
    "voice_size_problem": ("pynchy_cli.core.voice.kit", "size_problem"),
    "MAX_VOICE_BYTES": ("pynchy_cli.core.voice.kit", "MAX_VOICE_BYTES"),
    # agent cores
    "AgentCore": ("pynchy_cli.core.agent_cores.base", "AgentCore"),
    "ModelResult": ("pynchy_cli.core.agent_cores.base", "ModelResult"),
    "Usage": ("pynchy_cli.core.agent_cores.base", "Usage"),
    "ModelChoice": ("pynchy_cli.core.models", "ModelChoice"),
    # MCP servers and lifecycle hooks
    "McpServer": ("pynchy_cli.core.plugins.mcp", "McpServer"),
    "RunInfo": ("pynchy_cli.core.plugins.lifecycle", "RunInfo"),
    "ToolResult": ("pynchy_cli.core.plugins.lifecycle", "ToolResult"),
    "RunOutcome": ("pynchy_cli.core.plugins.lifecycle", "RunOutcome"),
    # settings (factories get them: settings.plugin["NAME"] is [plugin.NAME]) and paths
    "Settings": ("pynchy_cli.core.config", "Settings"),
    "Paths": ("pynchy_cli.core.paths", "Paths"),
    "resolve_paths": ("pynchy_cli.core.paths", "resolve_paths"),
    "plugin_values": ("pynchy_cli.core.plugins.values", "plugin_values"),
    "plugin_table_problems": ("pynchy_cli.core.plugins.values", "plugin_table_problems"),
    # a host-side write into a group's workspace that follows no symlink (pynchy-browser)
    "write_workspace_file": ("pynchy_cli.core.workspace_files", "write_file"),
    # errors: one line and a hint for the user
    "PynchyError": ("pynchy_cli.core.errors", "PynchyError"),
    "UsageError": ("pynchy_cli.core.errors", "UsageError"),
    "ConfigError": ("pynchy_cli.core.errors", "ConfigError"),
    "NotFoundError": ("pynchy_cli.core.errors", "NotFoundError"),
    "UnavailableError": ("pynchy_cli.core.errors", "UnavailableError"),
    "ConflictError": ("pynchy_cli.core.errors", "ConflictError"),
    "DeniedError": ("pynchy_cli.core.errors", "DeniedError"),
    "ExitCode": ("pynchy_cli.core.errors", "ExitCode"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module = importlib.import_module(target[0])
    value = getattr(module, target[1]) if target[1] else module  # "": the module itself
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
