"""A small web site served by the tests on the host's loopback (127.0.0.1): a page with a
link and a form, the page the link leads to, and the form's answer. It records what the
browser sent it.

The browser container reaches the host's loopback only with slirp4netns'
allow_host_loopback (then the host is 10.0.2.2 inside): the tests set that as the
browser's network, so the site never listens on anything but 127.0.0.1. By default
browsers get the engine's bridge, which cannot reach the host's loopback.
"""

from __future__ import annotations

import html

from aiohttp import web

from pynchy_cli import testing

HOST_FROM_BROWSER = "10.0.2.2"  # the host's loopback as slirp4netns shows it
TEST_NETWORK = "slirp4netns:allow_host_loopback=true"

HOME = """<!doctype html>
<html><head><title>Pynchy test shop</title>
<style>body { font-family: sans-serif; background: #fafafa } h1 { color: #225 }</style>
</head><body>
<h1>Welcome to the test shop</h1>
<p>Fresh bread every morning.</p>
<p><a href="/next" target="_blank">Opening hours</a> <a href="/never">Never shown</a></p>
<form method="post" action="/order">
  <label for="who">Your name</label> <input id="who" name="who" value="old">
  <label>Loaf <select name="loaf"><option value="rye">Rye</option>
    <option value="spelt">Spelt loaf</option></select></label>
  <textarea name="note" aria-label="Note"></textarea>
  <button type="submit">Order</button>
</form>
<script>document.querySelector('a[href="/never"]').style.display = "none";</script>
</body></html>"""

NEXT = """<!doctype html><html><head><title>Opening hours</title></head>
<body><h1>Opening hours</h1><p>Monday to Saturday, 7 to 13.</p>
<button onclick="alert('closed on Sunday')">Sunday?</button></body></html>"""


class Site(testing.FakeServer):
    thread_name = "test-site"

    def __init__(self) -> None:
        self.port = 0
        self.orders: list[dict[str, str]] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        """The site as the browser container sees it."""
        return f"http://{HOST_FROM_BROWSER}:{self.port}"

    async def _page(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        body = {"/": HOME, "/next": NEXT}.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(text=body, content_type="text/html")

    async def _order(self, request: web.Request) -> web.Response:
        form = await request.post()
        order = {key: str(value) for key, value in form.items()}
        self.orders.append(order)
        who = html.escape(order.get("who", ""))
        text = (
            f"<title>Thanks</title><p>Thanks, {who}: one {html.escape(order.get('loaf', ''))}.</p>"
        )
        return web.Response(text=text, content_type="text/html")

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/next", self._page)
        app.router.add_post("/order", self._order)
        self.port = await self._listen(app)
