"""The browser's tools against a real browser container and a web site the test serves on
the host's loopback: open, read_text, click (a link, a button), fill (a form the site then
receives), screenshot (a real PNG in the workspace); and the container's confinement."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser_helpers import browser_tools, container_of, exists, gone, podman
from pynchy_browser.config import load_config
from pynchy_browser.container import Containers
from pynchy_browser.stamp import RunStamp
from site_server import TEST_NETWORK, Site

pytestmark = pytest.mark.podman


def test_open_and_read(browser_image: str, site: Site, workspace: Path):
    async def scenario():
        async with browser_tools(workspace) as (_, call):
            opened, error = await call("open", url=site.url + "/")
            assert not error, opened
            assert opened["title"] == "Pynchy test shop" and opened["status"] == 200
            page, error = await call("read_text")
            assert not error, page
            # a #fragment of the same page loads nothing: answered at once, no "still loading"
            moved, error = await call("open", url=site.url + "/#who")
            assert not error and moved["url"].endswith("/#who") and "note" not in moved
            return page

    page = asyncio.run(scenario())
    assert "Fresh bread every morning." in page["text"]
    assert {"text": "Opening hours", "href": site.url + "/next"} in page["links"]
    assert not any(link["text"] == "Never shown" for link in page["links"])  # hidden
    fields = {f["selector"]: f for f in page["fields"]}
    assert fields["#who"]["label"] == "Your name" and fields["#who"]["value"] == "old"
    assert 'select[name="loaf"]' in fields and page["buttons"] == ["Order"]
    assert site.paths == ["/"]


def test_click_a_link_by_text_then_a_button_whose_dialog_is_dismissed(
    browser_image: str, site: Site, workspace: Path
):
    async def scenario():
        async with browser_tools(workspace) as (_, call):
            await call("open", url=site.url + "/")
            link = await call("click", text="opening hours")  # case and blanks do not matter
            button = await call("click", text="Sunday?")
            text = await call("read_text")
            return link, button, text

    (link, link_error), (button, button_error), (text, _) = asyncio.run(scenario())
    assert not link_error and not button_error, (link, button)
    # target=_blank is dropped: the link opens in the same page, which the tools follow
    assert link["navigated"] and link["url"] == site.url + "/next"
    assert link["title"] == "Opening hours" and link["clicked"]["tag"] == "a"
    assert not button["navigated"] and button["dialogs_dismissed"] == ["alert: closed on Sunday"]
    assert "Monday to Saturday" in text["text"]


def test_fill_a_form_and_submit_it(browser_image: str, site: Site, workspace: Path):
    async def scenario():
        async with browser_tools(workspace) as (_, call):
            await call("open", url=site.url + "/")
            filled = [
                await call("fill", selector="#who", value="Ada Lovelace"),
                await call("fill", selector='select[name="loaf"]', value="Spelt loaf"),
                await call("fill", selector='textarea[name="note"]', value="two, please"),
            ]
            sent = await call("click", selector="form button")
            return filled, sent, await call("read_text")

    filled, (sent, error), (thanks, _) = asyncio.run(scenario())
    assert [answer["value"] for answer, _ in filled] == ["Ada Lovelace", "spelt", "two, please"]
    assert not error and sent["navigated"] and sent["title"] == "Thanks"
    assert site.orders == [{"who": "Ada Lovelace", "loaf": "spelt", "note": "two, please"}]
    assert "Thanks, Ada Lovelace: one spelt." in thanks["text"]


def test_screenshots_are_pngs_in_the_workspace(browser_image: str, site: Site, workspace: Path):
    async def scenario():
        async with browser_tools(workspace) as (_, call):
            await call("open", url=site.url + "/")
            window = await call("screenshot", name="shop")
            whole = await call("screenshot", full_page=True)
            refused = await call("screenshot", name="../outside")
            return window, whole, refused

    (window, error), (whole, whole_error), (refused, refused_error) = asyncio.run(scenario())
    assert not error and not whole_error, (window, whole)
    assert window["path"] == "/workspace/screenshots/shop.png"
    data = (workspace / "screenshots" / "shop.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == window["bytes"] > 1000
    assert (window["width"], window["height"]) == (1280, 800), window
    assert (workspace / whole["workspace_path"]).read_bytes().startswith(b"\x89PNG")
    assert whole["width"] == 1280 and whole["height"] >= 300, whole
    assert refused_error and "no folders" in refused, refused
    assert not (workspace.parent / "outside.png").exists()


def test_what_cannot_be_done_is_one_line(browser_image: str, site: Site, workspace: Path):
    async def scenario():
        async with browser_tools(workspace) as (_, call):
            answers = [
                await call("read_text"),
                await call("open", url="file:///etc/passwd"),
                await call("open", url=f"http://127.0.0.1:{site.port}/"),  # its own loopback
            ]
            await call("open", url=site.url + "/")
            answers += [
                await call("click", selector="#nothing-here"),
                await call("click"),
                await call("fill", selector="a", value="x"),
                await call("fill", selector='select[name="loaf"]', value="baguette"),
            ]
            return answers

    answers = asyncio.run(scenario())
    assert all(error for _, error in answers), answers
    said = [text for text, _ in answers]
    assert said[0].startswith("no page is open in this browser")
    assert said[1].startswith("only http and https URLs open here")
    assert "ERR_CONNECTION_REFUSED" in said[2]  # the browser's loopback is not the host's
    assert said[3] == "no element matches #nothing-here"
    assert "give either selector or text" in said[4]
    assert said[5] == "a is not a field"
    assert said[6].startswith('no option "baguette"; there are: "Rye", "Spelt loaf"')


def test_a_call_without_the_hosts_stamp_is_refused(browser_image: str, site: Site, workspace: Path):
    async def scenario():
        async with browser_tools(workspace) as (session, _):
            forged = await session.call_tool(
                "open", {"url": site.url + "/", "pynchy_run": "eyJ4IjoxfQ.00"}
            )
            bare = await session.call_tool("open", {"url": site.url + "/"})
            return forged, bare

    for result in asyncio.run(scenario()):
        assert result.is_error and "refused" in result.content[0].text
    assert site.paths == []  # nothing was opened
    assert not exists(container_of(workspace))


def status_without_token(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_container_is_confined(browser_image: str, site: Site, workspace: Path):
    name = container_of(workspace)

    async def scenario():
        async with browser_tools(workspace, memory="768m") as (_, call):
            await call("open", url=site.url + "/")
            inspected = json.loads(podman("inspect", name).stdout)[0]
            users = podman("top", name, "user").stdout.split()[1:]
            port = inspected["NetworkSettings"]["Ports"]["9222/tcp"][0]["HostPort"]
            return inspected, users, await asyncio.to_thread(status_without_token, int(port))

    inspected, users, status = asyncio.run(scenario())
    assert status == 403  # DevTools answer only the host that holds the container's token
    host = inspected["HostConfig"]
    assert inspected["Config"]["User"] == "browser" and set(users) == {"browser"}
    assert inspected["EffectiveCaps"] in (None, [])
    assert "no-new-privileges" in " ".join(host["SecurityOpt"] or [])
    assert host["ReadonlyRootfs"] is True and host["Memory"] == 768 * 1024 * 1024
    assert inspected["Mounts"] == []  # no host folder; /tmp is a tmpfs
    assert "/tmp" in host["Tmpfs"]
    bindings = host["PortBindings"]["9222/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
    labels = inspected["Config"]["Labels"]
    assert labels["pynchy.run"] == "run-1" and labels["pynchy.group"] == "main"


def test_one_browser_per_group_removed_by_the_run_that_started_it(
    browser_image: str, site: Site, tmp_path: Path
):
    main, family = tmp_path / "main", tmp_path / "family"
    main.mkdir(), family.mkdir()

    async def scenario():
        async with browser_tools(main) as (_, first):
            await first("open", url=site.url + "/next")
            await first("open", url=site.url + "/next")
            async with browser_tools(family, group="family") as (_, other):
                await other("open", url=site.url + "/")
            # a second run of the group (a delegate) finds the same browser and its page
            async with browser_tools(main) as (_, second):
                shown, _ = await second("read_text")
            assert gone(container_of(family, "family")), "family's run ended"
            assert exists(container_of(main)), "the delegate did not start it: it stays"
            return shown

    shown = asyncio.run(scenario())
    assert shown["title"] == "Opening hours"
    assert gone(container_of(main))


def test_an_idle_browser_stops_itself_and_the_next_call_starts_another(
    browser_image: str, site: Site, workspace: Path
):
    name = container_of(workspace)

    async def scenario():
        async with browser_tools(workspace, idle_timeout=2) as (_, call):
            await call("open", url=site.url + "/")
            stopped = await asyncio.to_thread(gone, name)
            after = await call("read_text")
            return stopped, after, exists(name)

    stopped, (after, error), again = asyncio.run(scenario())
    assert stopped and again
    assert error and after.startswith("no page is open in this browser")


def test_a_browser_another_pynchy_process_left_is_replaced(
    browser_image: str, site: Site, workspace: Path
):
    """A crash left the group's browser running, with the token of a host process that is
    gone: the next run cannot drive it, so it removes it and starts its own."""
    config = load_config({"network": TEST_NETWORK})
    stranger = RunStamp("old-run", "main", str(workspace))
    left = asyncio.run(Containers(config).start(stranger, secrets.token_hex(32)))
    assert left.owned and exists(left.name)

    async def scenario():
        async with browser_tools(workspace) as (_, call):
            opened = await call("open", url=site.url + "/")
            labels = json.loads(podman("inspect", left.name).stdout)[0]["Config"]["Labels"]
            return opened, labels

    (opened, error), labels = asyncio.run(scenario())
    assert not error and opened["title"] == "Pynchy test shop", opened
    assert labels["pynchy.run"] == "run-1"  # the new run's browser, under the same name
    assert gone(left.name)
