"""Voice: voice messages in (kept on the host, transcribed through an OpenAI-compatible
endpoint) and spoken replies out (a local TTS engine). See README "Voice"."""
