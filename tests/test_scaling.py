"""Scaling's parts that need no Ray cluster: what a group asks for, the workspace shipped to
a node and its changes brought back (a hostile container wrote them), GPU devices through
CDI, `pynchy node start` and doctor. The cluster itself: tests/test_scaling_cluster.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from rayhelp import require_ray
from servehelp import free_port

from pynchy_cli.core.errors import UsageError
from pynchy_cli.core.scaling import shipping
from pynchy_cli.core.scaling.host import gpu_devices
from pynchy_cli.core.scaling.node import NodeOptions, start_command
from pynchy_cli.core.scaling.requests import change_resources, request_for
from pynchy_cli.core.scaling.settings import RaySettings

LIMIT = 10 << 20


def test_groups_store_what_their_runs_ask_for(cli):
    added = cli(
        *("groups", "add", "train", "--cpus", "2", "--memory", "4g", "--gpus", "1"),
        *("--resource", "bigmem=1", "--node-label", "tier=bigmem"),
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(cli("groups", "show", "train", "--json").stdout)
    assert shown["resources"] == {
        "cpus": 2.0,
        "memory": "4g",
        "gpus": 1.0,
        "resources": {"bigmem": 1.0},
        "labels": {"tier": "bigmem"},
    }
    changed = cli("groups", "set", "train", "--resource", "bigmem=0", "--node-label", "tier=")
    assert changed.exit_code == 0 and "resources" in changed.output
    shown = json.loads(cli("groups", "show", "train", "--json").stdout)
    assert shown["resources"] == {
        "cpus": 2.0,
        "memory": "4g",
        "gpus": 1.0,
        "resources": {"bigmem": 0.0},
    }
    for bad, why in (
        (["--resource", "CPU=2"], "use --cpus"),
        (["--resource", "bigmem"], "NAME=N"),
        (["--node-label", "bad key=x"], "invalid label key"),
        (["--memory", "lots"], "invalid memory"),
        (["--cpus", "-1"], "0 or more"),
    ):
        result = cli("groups", "set", "train", *bad)
        assert result.exit_code != 0 and why in result.output, (bad, result.output)


def test_a_request_is_the_group_over_the_defaults():
    defaults = RaySettings(cpus=1, memory="1g", resources={"spot": 1}, labels={"zone": "a"})
    stored = change_resources({}, cpus=4, resources=["spot=0", "bigmem=2"], labels=["tier=x"])
    request = request_for(stored, defaults)
    assert request.ray_options() == {
        "num_cpus": 4.0,
        "num_gpus": 0.0,
        "memory": 1 << 30,
        "resources": {"bigmem": 2.0},
        "label_selector": {"zone": "a", "tier": "x"},
    }
    assert request.describe() == "4 CPU, 1.0 GiB memory, bigmem=2, label zone=a, label tier=x"
    node = {"CPU": 8.0, "memory": float(8 << 30), "bigmem": 2.0}
    assert request.shortfall(node, {"zone": "a", "tier": "x"}) is None
    assert request.shortfall(node, {"zone": "a"}) == "label tier=x"
    assert request.shortfall({**node, "CPU": 2.0}, {"zone": "a", "tier": "x"}) == "4 CPU"
    with pytest.raises(UsageError):
        change_resources({}, labels=["novalue"])


def _workspace(root: Path) -> Path:
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "a.txt").write_text("alpha")
    (root / "CLAUDE.md").write_text("memory")
    (root / "old.txt").write_text("to delete")
    os.symlink("notes/a.txt", root / "inside-link")
    os.symlink("/etc/passwd", root / "planted")  # a former run's hostile link
    os.mkfifo(root / "fifo")
    return root


def test_a_workspace_ships_out_and_its_changes_come_back(tmp_path):
    home = _workspace(tmp_path / "home")
    data = shipping.pack(home, limit=LIMIT)
    node = tmp_path / "node"
    shipping.unpack(data, node)  # the node's copy: links kept inside, never outside
    assert (node / "notes" / "a.txt").read_text() == "alpha"
    assert os.readlink(node / "inside-link") == "notes/a.txt"
    assert not os.path.lexists(node / "planted") and not os.path.lexists(node / "fifo")
    before = shipping.snapshot(node)
    (node / "notes" / "a.txt").write_text("changed")
    (node / "new" / "deep").mkdir(parents=True)
    (node / "new" / "deep" / "b.txt").write_text("beta")
    (node / "old.txt").unlink()
    tar, deleted = shipping.changes(node, before, limit=LIMIT)
    with tarfile.open(fileobj=io.BytesIO(tar)) as opened:
        names = sorted(opened.getnames())
    assert names == ["new", "new/deep", "new/deep/b.txt", "notes/a.txt"]
    assert deleted == ["old.txt"]
    assert shipping.apply(home, tar, deleted) == []
    assert (home / "notes" / "a.txt").read_text() == "changed"
    assert (home / "new" / "deep" / "b.txt").read_text() == "beta"
    assert not (home / "old.txt").exists() and (home / "CLAUDE.md").read_text() == "memory"
    with pytest.raises(shipping.TooLarge):
        shipping.pack(home, limit=3)


def _hostile_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(name: str, kind: bytes = tarfile.REGTYPE, body: bytes = b"x", link: str = ""):
            member = tarfile.TarInfo(name)
            member.type, member.linkname, member.size = kind, link, len(body)
            tar.addfile(member, io.BytesIO(body) if kind == tarfile.REGTYPE else None)

        add("/etc/pynchy-abs")  # absolute
        add("../escaped")  # climbs out
        add("leak", tarfile.SYMTYPE, b"", "/etc/passwd")  # a link out
        add("up", tarfile.SYMTYPE, b"", "../../outside")
        add("hard", tarfile.LNKTYPE, b"", "/etc/passwd")
        add("dev", tarfile.CHRTYPE, b"")
        add("via-link/evil.txt")  # through a link the workspace holds
        add("ok.txt", body=b"fine")
        add("rel", tarfile.SYMTYPE, b"", "ok.txt")
    return buffer.getvalue()


def test_changes_from_a_hostile_container_never_leave_the_workspace(tmp_path):
    home = tmp_path / "home"
    outside = tmp_path / "outside"
    home.mkdir()
    outside.mkdir()
    os.symlink(outside, home / "via-link")
    (home / "keep.txt").write_text("keep")
    refused = shipping.apply(home, _hostile_tar(), ["../../victim", "/etc/hosts", "via-link/x"])
    assert (home / "ok.txt").read_text() == "fine"
    assert os.readlink(home / "rel") == "ok.txt"
    for name in ("leak", "up", "hard", "dev", "escaped"):
        assert not os.path.lexists(home / name), name
    assert not os.path.lexists("/etc/pynchy-abs") and not (tmp_path / "escaped").exists()
    assert list(outside.iterdir()) == []  # nothing written through the planted link
    assert (home / "keep.txt").read_text() == "keep"
    assert len(refused) == 9  # six members, three deletions: each said once


def test_gpu_devices_follow_the_nodes_cdi_spec(tmp_path):
    spec = {"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu", "devices": []}
    spec["devices"] = [{"name": n, "containerEdits": {}} for n in ("0", "1", "all")]
    (tmp_path / "nvidia.json").write_text(json.dumps(spec))
    folders = (str(tmp_path), str(tmp_path / "missing"))
    assert gpu_devices(["1"], folders) == ["nvidia.com/gpu=1"]
    assert gpu_devices(["5"], folders) == ["nvidia.com/gpu=all"]
    assert gpu_devices(["0"], (str(tmp_path / "missing"),)) == []


def test_node_start_wraps_ray_start_with_token_auth(cli, pynchy_home):
    head = start_command(
        NodeOptions(
            head=True,
            port=6380,
            node_ip="10.0.0.5",
            num_gpus=1,
            resources={"bigmem": 1.0},
            labels={"tier": "bigmem", "zone": "a"},
        )
    )
    assert head[1:] == [
        "start",
        "--disable-usage-stats",
        "--head",
        "--port=6380",
        "--include-dashboard=false",
        "--node-ip-address=10.0.0.5",
        "--num-gpus=1",
        '--resources={"bigmem": 1.0}',
        "--labels=tier=bigmem,zone=a",
    ]
    worker = start_command(NodeOptions(address="10.0.0.5:6380", node_ip="127.0.0.1"))
    assert worker[-1] == "--address=10.0.0.5:6380"  # loopback is left for Ray to find
    result = cli("node", "start", "--address", "10.0.0.5:6380")
    assert result.exit_code != 0 and "no Ray token on this machine" in result.output
    assert "ray-token" in result.output
    result = cli("node", "start")
    assert result.exit_code != 0 and "give --head or --address" in result.output
    result = cli("node", "start", "--head", "--resources", "[1]")
    assert result.exit_code != 0 and "JSON object" in result.output


def test_doctor_tells_the_scaling_mode(cli, pynchy_home):
    result = cli("doctor", "--json")
    [check] = [c for c in json.loads(result.stdout) if c["name"] == "scaling"]
    assert check["ok"] and check["detail"] == "local: up to 4 runs at once"
    (pynchy_home / "config.toml").write_text('scaling = "ray"\n[ray]\naddress = "127.0.0.1:9"\n')
    (pynchy_home / "ray-token").write_text("t\n")
    (pynchy_home / "ray-token").chmod(0o644)
    [check] = [c for c in json.loads(cli("doctor", "--json").stdout) if c["name"] == "scaling"]
    assert not check["ok"] and "readable by others" in check["detail"]
    (pynchy_home / "ray-token").chmod(0o600)
    [check] = [c for c in json.loads(cli("doctor", "--json").stdout) if c["name"] == "scaling"]
    assert not check["ok"] and "nothing answers there" in check["detail"]


def test_serve_says_when_it_cannot_reach_the_ray_cluster(pynchy_home):
    require_ray()
    port = free_port()  # nothing listens there
    env = {**os.environ, "PYNCHY_HOME": str(pynchy_home)}
    done = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "serve", "--model", "echo", "--scaling", "ray"]
        + ["--ray-address", f"127.0.0.1:{port}", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"pynchy: error: cannot reach the Ray cluster at 127.0.0.1:{port}" in done.stderr
