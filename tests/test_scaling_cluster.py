"""Ray scaling on a three-node cluster on this machine, each node started with `pynchy node
start` (token auth): a head, a "gpu" node (one GPU Ray believes in, a spot slot) and a
"big" node (labelled tier=bigmem, a bigmem resource, a spot slot). `pynchy serve` joins it;
runs land where their group's resources are, in real podman containers whose socket is
relayed to serve and whose workspace is shipped there and back."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import bash, require_podman, write_script
from rayhelp import Cluster, require_ray
from servehelp import Serve

pytestmark = [pytest.mark.ray, pytest.mark.podman]

# A fake NVIDIA CDI spec: a GPU run's container gets this variable instead of a device.
CDI_SPEC = Path("/var/run/cdi/pynchy-test-gpu.yaml")
CDI_TEXT = """cdiVersion: "0.5.0"
kind: "nvidia.com/gpu"
devices:
  - name: "all"
    containerEdits:
      env: ["PYNCHY_FAKE_GPU=1"]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_ray()
    require_podman()
    nodes = Cluster(tmp_path_factory.mktemp("ray3"))
    try:
        nodes.start_head("--num-cpus", "2")
        nodes.add("gpu", "--num-cpus", "1", "--num-gpus", "1", "--resources", '{"spot": 1}')
        nodes.add(
            "big",
            *("--num-cpus", "1", "--resources", '{"spot": 1, "bigmem": 1}'),
            *("--labels", "tier=bigmem"),
        )
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory, cluster):
    folder = tmp_path_factory.mktemp("serve-home")
    cluster.give_token(folder)
    # In config too: doctor and status read it (serve is given the flags as well).
    config = f'scaling = "ray"\n[ray]\naddress = "{cluster.address}"\nmax_workspace_mb = 1\n'
    (folder / "config.toml").write_text(config)
    return folder


@pytest.fixture(scope="module")
def serve(home, cluster):
    fake_gpu = os.access(CDI_SPEC.parent, os.W_OK) or os.geteuid() == 0
    if fake_gpu:
        CDI_SPEC.parent.mkdir(parents=True, exist_ok=True)
        CDI_SPEC.write_text(CDI_TEXT)
    service = Serve(
        home,
        *("--runtime", "podman", "--scaling", "ray", "--ray-address", cluster.address),
        # Warm containers wait 3 s for follow-ups: a run's workspace comes back when it ends.
        env={"PYNCHY_LIMITS__RUN_TIMEOUT": "120", "PYNCHY_LIMITS__IDLE_TIMEOUT": "3"},
    )
    service.fake_gpu = fake_gpu
    try:
        yield service.start()
    finally:
        if service.proc and service.proc.poll() is None:
            service.terminate()  # drains: warm containers stop and are removed
        CDI_SPEC.unlink(missing_ok=True)


def pynchy(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYNCHY_HOME": str(home), "COLUMNS": "400"}
    done = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 or not check, done.stderr
    return done


def replies(serve: Serve, group: str) -> list[dict]:
    return [m for m in serve.messages(group) if m["sender_kind"] == "assistant"]


def runs_of(home: Path, group: str) -> list[dict]:
    with sqlite3.connect(home / "pynchy.db") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "select runs.* from runs join groups on groups.id = runs.group_id"
            " where groups.name = ? order by runs.started_at",
            [group],
        )
        return [dict(row) for row in rows]


def finished(home: Path, group: str) -> list[dict]:
    runs = runs_of(home, group)
    return runs if runs and all(r["finished_at"] for r in runs) else []


def answered(serve: Serve, group: str, count: int = 1) -> list[dict]:
    serve.wait_for(lambda: len(replies(serve, group)) >= count, f"{group} answered")
    return replies(serve, group)


def test_runs_land_where_their_resources_are(serve, home, cluster, tmp_path):
    ids = {name: cluster.node_id(name) for name in ("head", "gpu", "big")}
    work = "echo gpu=$PYNCHY_FAKE_GPU; head -1 /memory/global/CLAUDE.md; echo made > made.txt"
    work += "; ln -s /etc/passwd leak; rm CLAUDE.md"
    script = write_script(tmp_path / "gpu.json", [{"tool_calls": [bash(work)]}, {"text": "ok"}])
    pynchy(home, "groups", "add", "gpu", "--admin", "--gpus", "1", "--model", script)
    pynchy(home, "groups", "add", "big", "--admin", "--node-label", "tier=bigmem")
    for name in ("plain1", "plain2"):
        pynchy(home, "groups", "add", name, "--admin")
    for name in ("gpu", "big", "plain1", "plain2"):
        serve.send(name, f"hello {name}")
    for name in ("gpu", "big", "plain1", "plain2"):
        answered(serve, name)
    assert [r["node"] for r in runs_of(home, "gpu")] == [ids["gpu"]]
    assert [r["node"] for r in runs_of(home, "big")] == [ids["big"]]
    for name in ("plain1", "plain2"):
        [run] = runs_of(home, name)
        assert run["node"] in ids.values()
    # The GPU run's container on the gpu node: the CDI device, the global memory shipped
    # read-only, its workspace changes brought back; the planted link was refused.
    ended = serve.wait_for(lambda: finished(home, "gpu"), "the gpu run ended")
    trace = json.loads(pynchy(home, "agent", "trace", ended[0]["id"], "--json").stdout)
    [result] = [e["data"]["content"] for e in trace["events"] if e["kind"] == "tool_result"]
    if serve.fake_gpu:
        assert "gpu=1" in result
    assert "# Global memory" in result
    workspace = home / "groups" / "gpu"
    assert (workspace / "made.txt").read_text() == "made\n"
    assert not (workspace / "CLAUDE.md").exists()  # deleted there, deleted here
    assert not os.path.lexists(workspace / "leak")
    ps = json.loads(pynchy(home, "agent", "ps", "--all", "--json").stdout)
    assert {r["group_name"]: r["node"] for r in ps}["big"] == ids["big"]
    assert f"node {ids['gpu']}" in pynchy(home, "agent", "trace", trace["run"]["id"]).stdout


def test_a_workspace_too_large_to_ship_runs_on_serves_node(serve, home):
    pynchy(home, "groups", "add", "bulky", "--admin")
    (home / "groups" / "bulky" / "blob.bin").write_bytes(b"x" * (2 << 20))  # over 1 MB
    for count in (1, 2, 3):  # wherever Ray would put it, it stays with serve
        serve.send("bulky", "hello")
        answered(serve, "bulky", count)
        serve.wait_for(lambda: finished(home, "bulky"), "the run ended")
    serve_node = serve.get("/status")["scaling"]["serve_node"]
    assert {r["node"] for r in runs_of(home, "bulky")} == {serve_node}


def test_busy_resources_make_runs_wait_then_all_complete(serve, home, cluster):
    # One bigmem in the cluster: three groups that each ask for it run one after another.
    names = ["mem1", "mem2", "mem3"]
    for name in names:
        pynchy(home, "groups", "add", name, "--admin", "--resource", "bigmem=1")
    for name in names:
        serve.send(name, f"big job {name}")
    waiting = serve.wait_for(lambda: serve.get("/status")["scaling"]["waiting"], "a waiting run")
    assert waiting[0]["asks"] == "1 CPU, bigmem=1"
    for name in names:
        answered(serve, name)
    spans = sorted((r["started_at"], r["finished_at"]) for n in names for r in runs_of(home, n))
    assert len(spans) == 3
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(2)), spans  # never two at once
    assert {r["node"] for n in names for r in runs_of(home, n)} == {cluster.node_id("big")}
    # `pynchy status` and doctor see the cluster through the running serve.
    status = json.loads(pynchy(home, "status", "--json").stdout)["scaling"]
    assert sorted(n["id"] for n in status["nodes"] if n["alive"]) == sorted(
        cluster.node_id(name) for name in ("head", "gpu", "big")
    )
    shown = pynchy(home, "status").stdout
    assert "tier=bigmem" in shown and "GPU 1/1" in shown and "(serve)" in shown
    doctor = json.loads(pynchy(home, "doctor", "--json", check=False).stdout)
    [check] = [c for c in doctor if c["name"] == "scaling"]
    assert check["ok"] and "3 node(s) alive, 1 GPU" in check["detail"], check


def test_a_group_that_can_never_fit_is_refused_at_once(serve, home):
    pynchy(home, "groups", "add", "huge", "--admin", "--gpus", "4")
    pynchy(home, "groups", "add", "mars", "--admin", "--node-label", "zone=mars")
    for name in ("huge", "mars"):
        serve.send(name, "please run")
    expected = {"huge": "no node of the Ray cluster has 4 GPU", "mars": "has label zone=mars"}
    for name, lacks in expected.items():
        notices = serve.wait_for(
            lambda n=name: [m for m in serve.messages(n) if m["sender_kind"] == "host"], "a notice"
        )
        assert len(notices) == 1 and lacks in notices[0]["content"], notices
        assert runs_of(home, name) == []
    time.sleep(1)  # nothing else comes: the refusal is final, the message settled
    assert len([m for m in serve.messages("huge") if m["sender_kind"] == "host"]) == 1


def test_a_node_lost_mid_run_answers_the_message_exactly_once(serve, home, cluster, tmp_path):
    slow = write_script(
        tmp_path / "slow.json", [{"tool_calls": [bash("sleep 5")]}, {"text": "done"}]
    )
    pynchy(home, "groups", "add", "flaky", "--admin", "--resource", "spot=1", "--model", slow)
    sent = serve.send("flaky", "take your time")
    first = serve.wait_for(
        lambda: [r for r in runs_of(home, "flaky") if r["node"] and r["status"] == "running"],
        "the run placed",
    )[0]
    lost = next(name for name in ("gpu", "big") if cluster.node_id(name) == first["node"])
    serve.wait_for(lambda: "tool_use" in _event_kinds(home, first["id"]), "the tool running")
    cluster.kill_raylet(lost)
    [reply] = answered(serve, "flaky")
    assert reply["reply_to"] == sent["message"]["id"] and "done" in reply["content"]
    runs = serve.wait_for(lambda: finished(home, "flaky"), "the retried run ended")
    assert [r["status"] for r in runs] == ["failed", "succeeded"]
    assert "was lost mid-run" in runs[0]["error"]
    assert runs[1]["node"] not in (first["node"], None)
    time.sleep(1)
    assert len(replies(serve, "flaky")) == 1  # the retry did not answer twice
    # The node comes back: the container the lost run left there is removed.
    cluster.restart(lost)
    container = f"pynchy-flaky-{first['id']}"
    serve.wait_for(lambda: not _containers(container), "the orphan container removed", 1200)


def _event_kinds(home: Path, run_id: str) -> list[str]:
    with sqlite3.connect(home / "pynchy.db") as db:
        query = "select kind from run_events where run_id = ? order by seq"
        return [row[0] for row in db.execute(query, [run_id])]


def _containers(name: str) -> list[str]:
    done = subprocess.run(
        ["podman", "ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
    )
    return done.stdout.split()
