"""One page of a group's browser, driven over the DevTools protocol: open a URL, read its
text, photograph it, click, fill a field. Every wait is bounded; a JavaScript dialog
(alert, confirm) is dismissed at once and reported, so a page cannot stall the tools."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from pynchy_browser import scripts
from pynchy_browser.cdp import CdpConnection, Event, settle

LOAD_TIMEOUT = 30.0  # seconds for a page to load after open or a click that navigates
NAVIGATION_START = 1.0  # seconds a click has to start a navigation
MAX_URL = 4000
MAX_SCREENSHOT_HEIGHT = 16384  # pixels of a full-page screenshot


class PageError(Exception):
    """What the agent is told, in one line, when a browser action cannot be done."""


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PageError(f"only http and https URLs open here, not {url[:200]!r}")
    if len(url) > MAX_URL:
        raise PageError(f"the URL is longer than {MAX_URL} characters")
    return url


class Tab:
    def __init__(self, connection: CdpConnection, window: tuple[int, int] = (1280, 800)):
        self.cdp = connection
        self.window = window
        self.frame_id = ""
        self.dialogs: list[str] = []  # dismissed since the last answer
        self.opened = False  # has the agent opened a page in this browser yet

    async def setup(self) -> None:
        self.cdp.listen(self._on_event)
        await self.cdp.send("Page.enable")
        width, height = self.window  # the page's own size, not the window's outer one
        await self.cdp.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        tree = await self.cdp.send("Page.getFrameTree")
        self.frame_id = tree["frameTree"]["frame"]["id"]

    def _on_event(self, event: Event) -> None:
        if event.get("method") != "Page.javascriptDialogOpening":
            return
        params = event.get("params", {})
        self.dialogs.append(f"{params.get('type', 'dialog')}: {str(params.get('message'))[:300]}")
        # beforeunload is accepted (the page may be left); alert, confirm, prompt dismissed
        accept = params.get("type") == "beforeunload"
        self.cdp.send_later("Page.handleJavaScriptDialog", {"accept": accept})

    def _main_frame(self, event: Event) -> bool:
        return event.get("params", {}).get("frameId") == self.frame_id

    async def _evaluate(self, expression: str) -> Any:
        result = await self.cdp.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise PageError(f"the page's script failed: {str(text).splitlines()[0][:200]}")
        value = result.get("result", {}).get("value")
        if isinstance(value, dict) and value.get("error"):
            raise PageError(str(value["error"]))
        return value

    async def showing_a_page(self) -> bool:
        return (await self._state())["url"] != "about:blank"

    def _need_page(self) -> None:
        if not self.opened:
            raise PageError("no page is open in this browser: call open with a URL first")

    def _report(self, answer: dict[str, Any]) -> dict[str, Any]:
        if self.dialogs:
            answer["dialogs_dismissed"], self.dialogs = self.dialogs, []
        return answer

    async def _state(self) -> dict[str, Any]:
        return await self._evaluate(scripts.call(scripts.NAVIGATION_STATUS))

    async def open(self, url: str) -> dict[str, Any]:
        url = check_url(url)
        loaded = self.cdp.expect("Page.loadEventFired")
        answer = await self.cdp.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            loaded.cancel()
            raise PageError(f"could not open {url[:200]}: {answer['errorText']}")
        self.opened = True
        if "loaderId" not in answer:  # the same document (a #fragment): nothing loads
            loaded.cancel()
            return self._report(await self._state())
        finished = await settle(loaded, LOAD_TIMEOUT)
        state = await self._state()
        if finished is None:
            state["note"] = f"still loading after {LOAD_TIMEOUT:g}s; what loaded is there"
        return self._report(state)

    async def read_text(self, offset: int, limit: int) -> dict[str, Any]:
        self._need_page()
        args = {"offset": offset, "limit": limit, "links": 100, "fields": 50}
        page = await self._evaluate(scripts.call(scripts.READ, args))
        end = offset + len(page["text"])
        if end < page["total_chars"]:
            page["next_offset"] = end
        return self._report(page)

    async def screenshot(self, full_page: bool) -> bytes:
        self._need_page()
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = await self._evaluate(scripts.call(scripts.PAGE_SIZE))
            height = min(size["height"], MAX_SCREENSHOT_HEIGHT)
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": height, "scale": 1}
        shot = await self.cdp.send("Page.captureScreenshot", params, timeout=60.0)
        return base64.b64decode(shot["data"])

    async def click(self, selector: str | None, text: str | None) -> dict[str, Any]:
        self._need_page()
        target = await self._evaluate(
            scripts.call(scripts.FIND_CLICKABLE, {"selector": selector, "text": text})
        )
        started = self.cdp.expect("Page.frameStartedLoading", self._main_frame)
        within = self.cdp.expect("Page.navigatedWithinDocument", self._main_frame)
        loaded = self.cdp.expect("Page.loadEventFired")
        point = {"x": target["x"], "y": target["y"], "button": "left", "clickCount": 1}
        await self.cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", **point})
        await self.cdp.send("Input.dispatchMouseEvent", {"type": "mousePressed", **point})
        await self.cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", **point})
        navigated = await settle(started, NAVIGATION_START) is not None
        if navigated and await settle(loaded, LOAD_TIMEOUT) is None:
            target["note"] = f"the new page was still loading after {LOAD_TIMEOUT:g}s"
        else:
            loaded.cancel()
        moved_within = within.done() and not within.cancelled()
        within.cancel()
        state = await self._state()
        clicked = {"tag": target["tag"], "text": target["text"]}
        answer = {"clicked": clicked, "navigated": navigated or moved_within, **state}
        if "note" in target:
            answer["note"] = target["note"]
        return self._report(answer)

    async def fill(self, selector: str, value: str) -> dict[str, Any]:
        self._need_page()
        ready = await self._evaluate(
            scripts.call(scripts.FILL, {"selector": selector, "value": value})
        )
        if not ready.get("done"):
            await self.cdp.send("Input.insertText", {"text": value})  # as if typed
            ready = await self._evaluate(scripts.call(scripts.FILLED, {"selector": selector}))
        return self._report({"selector": selector, "value": ready.get("value")})
