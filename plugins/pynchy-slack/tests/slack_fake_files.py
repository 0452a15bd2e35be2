"""The local Slack's workspace ids, and its files (slack_fake.py): people's voice clips with
their download URL, files.info, and the v2 upload flow (files.getUploadURLExternal, the
upload, files.completeUploadExternal). SlackFiles is a mixin of FakeSlack: it uses its
state and helpers."""

from __future__ import annotations

import json
import time

from aiohttp import web

BOT_TOKEN = "xoxb-1-pynchy-test"
APP_TOKEN = "xapp-1-pynchy-test"
BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
APP_ID = "APYNCHY01"
TEAM = "TPYNCHY01"


def channel_type(chat: str) -> str:
    return {"D": "im", "G": "group"}.get(chat[:1], "channel")


class SlackFiles:
    files: dict[str, dict]
    downloads: list[tuple[str, str]]
    uploads: list[dict]
    history: dict[str, list[dict]]
    port: int
    down: bool

    def _file(self, data: bytes, name: str, mimetype: str, user: str, **extra) -> dict:
        file_id = f"F{len(self.files) + 1:010d}"
        url = f"http://127.0.0.1:{self.port}/files-pri/{TEAM}-{file_id}/{name}"
        file = {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2],
            "user": user,
            "size": len(data),
            "mode": "hosted",
            "is_external": False,
            "url_private": url,
            "url_private_download": url + "?download=1",
            **extra,
        }
        self.files[file_id] = {**file, "_data": data}
        return file

    async def _say_voice(self, chat, audio, user, text, mimetype, size, check_file_info):
        extension = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a"}
        name = f"audio_message.{extension.get(mimetype, 'bin')}"
        file = self._file(audio, name, mimetype, user, subtype="slack_audio")
        file["media_display_type"] = "audio"
        file["duration_ms"] = 2400
        if size is not None:
            file["size"] = self.files[file["id"]]["size"] = size
        shared = {"id": file["id"], "file_access": "check_file_info"} if check_file_info else file
        ts = self._next_ts()
        message = {
            "type": "message",
            "subtype": "file_share",
            "user": user,
            "text": text,
            "ts": ts,
            "team": TEAM,
            "upload": True,
            "files": [shared],
        }
        self.history[chat].append(message)
        event = {**message, "channel": chat, "event_ts": ts, "channel_type": channel_type(chat)}
        await self._emit(event)
        return ts

    async def _file_download(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            return self._reset(request, "files-pri")
        file_id = request.match_info["team_file"].partition("-")[2]
        auth = request.headers.get("Authorization", "")
        self.downloads.append((file_id, auth))
        if auth != f"Bearer {BOT_TOKEN}":  # Slack's answer without access: its sign-in page
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        file = self.files.get(file_id)
        if file is None:
            return web.Response(status=404, text="file not found")
        return web.Response(body=file["_data"], content_type=file["mimetype"])

    async def _file_upload(self, request: web.Request) -> web.StreamResponse:
        file = self.files.get(request.match_info["file_id"])
        if file is None or "_pending" not in file:
            return web.Response(status=404, text="upload not found")
        if request.content_type.startswith("multipart/"):
            data = b""
            async for part in await request.multipart():
                if part.filename is not None:
                    data = await part.read()
        else:
            data = await request.read()
        if len(data) != file["_pending"]:
            return web.Response(status=400, text="length mismatch")
        file["_data"], file["size"] = data, len(data)
        return web.Response(text=f"OK - {len(data)}")

    async def _m_files_info(self, args, request) -> dict:
        file = self.files.get(args.get("file"))
        if file is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": {k: v for k, v in file.items() if not k.startswith("_")}}

    async def _m_files_getUploadURLExternal(self, args, request) -> dict:
        name, length = args.get("filename"), args.get("length")
        if not name or not str(length or "").isdigit() or int(length) < 1:
            return {"ok": False, "error": "invalid_arguments"}
        extension = name.rpartition(".")[2].lower()
        mimetype = {"ogg": "audio/ogg", "wav": "audio/wav", "mp3": "audio/mpeg"}.get(
            extension, "application/octet-stream"
        )
        file = self._file(b"", name, mimetype, BOT_USER)
        self.files[file["id"]]["_pending"] = int(length)
        return {
            "ok": True,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{file['id']}",
            "file_id": file["id"],
        }

    async def _m_files_completeUploadExternal(self, args, request) -> dict:
        files = args.get("files")
        files = json.loads(files) if isinstance(files, str) else files
        chat = args.get("channel_id")
        if not files:
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in files:
            file = self.files.get(item.get("id"))
            if file is None or file.get("_pending") is None:
                return {"ok": False, "error": "file_not_found"}
            if file["_pending"] != len(file["_data"]):
                return {"ok": False, "error": "file_upload_not_complete"}
            file.pop("_pending")
            file["title"] = item.get("title") or file["name"]
            public = {k: v for k, v in file.items() if not k.startswith("_")}
            done.append(public)
            self.uploads.append({"file": public, "data": file["_data"], "channel": chat})
        if chat:
            ts = self._next_ts()
            message = {
                "type": "message",
                "subtype": "file_share",
                "text": args.get("initial_comment") or "",
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "ts": ts,
                "files": done,
            }
            self.history[chat].append(message)
            await self._emit({**message, "channel": chat, "event_ts": ts})
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in done]}
