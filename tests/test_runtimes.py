"""The three runtimes against the real thing: podman (podman-py), docker-py on podman's
Docker-compatible socket, and plain subprocesses (the process runtime).

One test body runs on every runtime where the behaviour is shared; what only isolation can
do (read-only mounts, no network, limits) runs on the container runtimes only.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynchy_cli import protocol
from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import ConflictError, DeniedError, UnavailableError, UsageError
from pynchy_cli.core.runtimes.base import LABEL, ContainerHandle, ContainerSpec, Mount, Runtime
from pynchy_cli.core.runtimes.detect import EngineSocket, find_engine
from pynchy_cli.core.runtimes.docker import DockerRuntime
from pynchy_cli.core.runtimes.podman import PodmanRuntime
from pynchy_cli.core.runtimes.process import ProcessRuntime, host_path
from pynchy_cli.core.runtimes.select import container_name, get_runtime

# scripts/test sets this after it started podman: then a missing podman fails, not skips.
REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"
# Any image with /bin/sh and python3 serves; the agent image is not needed here.
IMAGES = ("localhost/pynchy-base:bookworm", "localhost/pynchy-agent:latest")
USER = "1000:1000"

# A small program every test runs: what it does comes from its environment, since the
# process runtime cannot remap paths (it rewrites in-container paths in env values instead).
PROBE = r"""
import json, os, socket, sys, time
out = {"cwd": os.getcwd(), "uid": os.getuid(), "env": dict(os.environ)}
if os.environ.get("WRITE_TO"):
    with open(os.path.join(os.environ["WRITE_TO"], "written.txt"), "w") as fh:
        fh.write("from the container")
    with open("relative.txt", "w") as fh:
        fh.write("in the workdir")
if os.environ.get("READ_ONLY"):
    try:
        open(os.path.join(os.environ["READ_ONLY"], "nope.txt"), "w").close()
        out["ro_write"] = "ok"
    except OSError as exc:
        out["ro_write"] = exc.errno
if os.environ.get("CONNECT"):
    out["connect"] = {}
    for target in os.environ["CONNECT"].split(","):
        host, port = target.rsplit(":", 1)
        s = socket.socket()
        s.settimeout(3)
        try:
            s.connect((host, int(port)))
            out["connect"][target] = "connected"
        except OSError as exc:
            out["connect"][target] = exc.errno or str(exc)
        finally:
            s.close()
if os.path.isdir("/sys/class/net"):
    out["interfaces"] = sorted(os.listdir("/sys/class/net"))
with open("/proc/self/status") as fh:
    status = dict(line.split(":", 1) for line in fh if ":" in line)
out["cap_eff"] = status["CapEff"].strip()
out["cap_bnd"] = status["CapBnd"].strip()
out["no_new_privs"] = status.get("NoNewPrivs", "").strip()
for path in ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"):
    if os.path.exists(path):
        out["cgroup_memory"] = open(path).read().strip()
        break
print("PROBE " + json.dumps(out), flush=True)
print("to stderr", file=sys.stderr, flush=True)
if os.environ.get("IGNORE_TERM"):
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.environ.get("SLEEP"):
    print("ready", flush=True)
    time.sleep(float(os.environ["SLEEP"]))
sys.exit(int(os.environ.get("EXIT", "0")))
"""


# --- fixtures ------------------------------------------------------------------------------


def _podman_engine() -> EngineSocket:
    try:
        return find_engine(want="podman")
    except UnavailableError as exc:
        if REQUIRE_PODMAN:
            pytest.fail(f"podman is required here: {exc.line()}")
        pytest.skip(f"no podman service ({exc.message}); run scripts/setup-podman")


def _test_image(runtime: PodmanRuntime) -> str:
    for image in IMAGES:
        if runtime.client.images.exists(image):
            return image
    message = f"none of {', '.join(IMAGES)} exists; run scripts/setup-podman"
    if REQUIRE_PODMAN:
        pytest.fail(message)
    pytest.skip(message)


class Bench:
    """One runtime under test, the specs it starts and their cleanup."""

    def __init__(self, runtime: Runtime, image: str, tmp_path: Path):
        self.runtime = runtime
        self.image = image
        self.tmp_path = tmp_path
        self.handles: list[ContainerHandle] = []

    @property
    def kind(self) -> str:
        return self.runtime.name

    def folder(self, name: str) -> Path:
        path = self.tmp_path / name
        path.mkdir(exist_ok=True)
        path.chmod(0o777)  # the container user is uid 1000; the test runs as anyone
        return path

    def spec(self, env: dict[str, str] | None = None, **changes) -> ContainerSpec:
        run_id = uuid.uuid4().hex[:10]
        spec = ContainerSpec(
            name=container_name("rt-test", run_id),
            image=self.image,
            command=["python3", "-c", PROBE],
            env={"WRITE_TO": "/work", **(env or {})},
            mounts=[Mount(str(self.folder("work")), "/work")],
            workdir="/work",
            labels={LABEL: run_id, "pynchy.group": "rt-test"},
            user=USER,
            cpus=0.5,
            memory="256m",
        )
        for key, value in changes.items():
            setattr(spec, key, value)
        return spec

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        handle = self.runtime.start(spec)
        self.handles.append(handle)
        return handle

    def run(self, spec: ContainerSpec) -> tuple[int, dict, list[str]]:
        """Start, wait for the exit, and return (exit code, probe output, log lines)."""
        handle = self.start(spec)
        code = self.runtime.wait(handle, None)
        lines = list(self.runtime.logs(handle))
        probe = [json.loads(x[len("PROBE ") :]) for x in lines if x.startswith("PROBE ")]
        assert probe, lines
        return code, probe[0], lines

    def wait_for_line(self, handle: ContainerHandle, text: str) -> None:
        while text not in list(self.runtime.logs(handle)):
            assert self.runtime.wait(handle, 0.05) is None, list(self.runtime.logs(handle))

    def cleanup(self) -> None:
        for handle in self.handles:
            self.runtime.stop(handle, grace=0)
        self.runtime.close()


def _bench(kind: str, tmp_path: Path) -> Bench:
    if kind == "process":
        return Bench(ProcessRuntime(tmp_path / "process-logs"), "unused", tmp_path)
    engine = _podman_engine()
    podman_runtime = PodmanRuntime(engine)
    image = _test_image(podman_runtime)
    if kind == "podman":
        return Bench(podman_runtime, image, tmp_path)
    podman_runtime.close()
    # docker-py against podman's Docker-compatible API
    return Bench(DockerRuntime(EngineSocket("docker", engine.url)), image, tmp_path)


CONTAINERS = [
    pytest.param("podman", marks=pytest.mark.podman),
    pytest.param("docker", marks=pytest.mark.podman),
]


@pytest.fixture(params=["process", *CONTAINERS])
def bench(request, tmp_path: Path) -> Iterator[Bench]:
    """Every runtime."""
    b = _bench(request.param, tmp_path)
    yield b
    b.cleanup()


@pytest.fixture(params=CONTAINERS)
def isolated(request, tmp_path: Path) -> Iterator[Bench]:
    """The runtimes that isolate: podman and docker."""
    b = _bench(request.param, tmp_path)
    yield b
    b.cleanup()


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on every host address that accepts whatever connects."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    server.settimeout(0.1)  # close() does not wake a thread blocked in accept()
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join()


def host_address() -> str:
    """The host's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))
        return s.getsockname()[0]


# --- every runtime -------------------------------------------------------------------------


def test_exit_code_env_logs_and_rw_mount(bench: Bench) -> None:
    spec = bench.spec(env={"EXIT": "7", "GREETING": "hello there"})
    code, probe, lines = bench.run(spec)
    assert code == 7
    assert probe["env"]["GREETING"] == "hello there"
    assert "to stderr" in lines  # stderr is in the logs too
    work = bench.tmp_path / "work"
    assert (work / "written.txt").read_text() == "from the container"
    assert (work / "relative.txt").read_text() == "in the workdir"  # cwd is the workdir mount
    if bench.runtime.isolated:
        assert probe["cwd"] == "/work" and probe["uid"] == 1000


def test_wait_times_out_while_running_then_stop_ends_it(bench: Bench) -> None:
    handle = bench.start(bench.spec(env={"SLEEP": "600"}))
    bench.wait_for_line(handle, "ready")
    assert bench.runtime.wait(handle, 0.2) is None
    running = [name for name, _, state in bench.runtime.list_pynchy() if state == "running"]
    assert handle.name in running
    bench.runtime.stop(handle, grace=30)
    assert bench.runtime.wait(handle, None) == 128 + 15  # SIGTERM reached the program
    assert handle.name not in [name for name, _, _ in bench.runtime.list_pynchy()]
    bench.runtime.stop(handle)  # idempotent
    bench.runtime.remove(handle)


def test_stop_kills_what_ignores_sigterm(bench: Bench) -> None:
    handle = bench.start(bench.spec(env={"SLEEP": "600", "IGNORE_TERM": "1"}))
    bench.wait_for_line(handle, "ready")
    bench.runtime.stop(handle, grace=1)
    assert bench.runtime.wait(handle, None) == 128 + 9


def test_labels_list_and_cleanup_orphans(bench: Bench) -> None:
    kept = bench.start(bench.spec(env={"SLEEP": "600"}))
    orphan_spec = bench.spec(env={"SLEEP": "600"})
    orphan = bench.start(orphan_spec)
    listed = {name: (run_id, state) for name, run_id, state in bench.runtime.list_pynchy()}
    assert listed[kept.name][1] == listed[orphan.name][1] == "running"
    assert listed[orphan.name][0] == orphan_spec.labels[LABEL]
    # Keep everything else that carries the label: other tests may run containers right now.
    keep = {run_id for name, (run_id, _) in listed.items() if name != orphan.name}
    assert bench.runtime.cleanup_orphans(keep) == [orphan.name]
    names = [name for name, _, _ in bench.runtime.list_pynchy()]
    assert kept.name in names and orphan.name not in names
    assert bench.runtime.wait(kept, 0) is None


# --- isolation: the container runtimes -----------------------------------------------------


def test_read_only_mount_is_read_only(isolated: Bench) -> None:
    ro = isolated.folder("ro")
    spec = isolated.spec(env={"READ_ONLY": "/ro"})
    spec.mounts.append(Mount(str(ro), "/ro", read_only=True))
    code, probe, _ = isolated.run(spec)
    assert code == 0
    assert probe["ro_write"] == 30  # EROFS
    assert not list(ro.iterdir())


def test_no_network_means_only_lo(isolated: Bench, listener: int) -> None:
    targets = [f"127.0.0.1:{listener}", f"{host_address()}:{listener}", "1.1.1.1:53"]
    code, probe, _ = isolated.run(isolated.spec(env={"CONNECT": ",".join(targets)}))
    assert code == 0
    assert probe["interfaces"] == ["lo"]
    assert all(result != "connected" for result in probe["connect"].values()), probe["connect"]


def test_network_granted_gives_an_interface(isolated: Bench, listener: int) -> None:
    target = f"{host_address()}:{listener}"
    code, probe, _ = isolated.run(isolated.spec(network=True, env={"CONNECT": target}))
    assert code == 0
    assert [name for name in probe["interfaces"] if name != "lo"]
    assert probe["connect"][target] == "connected"  # the same probe does reach the host


def test_limits_and_privileges(isolated: Bench) -> None:
    spec = isolated.spec(user="0:0")  # root in the container: what cap_drop ALL is for
    code, probe, _ = isolated.run(spec)
    assert code == 0 and probe["uid"] == 0
    assert probe["cap_eff"] == probe["cap_bnd"] == "0000000000000000"
    assert probe["no_new_privs"] == "1"
    assert int(probe["cgroup_memory"]) == 256 * 1024 * 1024
    attrs = isolated.runtime.client.containers.get(isolated.handles[-1].id).attrs
    host = attrs["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000 or host["CpuQuota"] * 2 == host["CpuPeriod"]
    assert "no-new-privileges" in host["SecurityOpt"]


def test_missing_image_says_how_to_build_it(isolated: Bench) -> None:
    spec = isolated.spec(image="localhost/pynchy-no-such-image:latest")
    with pytest.raises(UnavailableError) as err:
        isolated.start(spec)
    assert err.value.hint == "Run: pynchy agent image build"
    assert "pynchy-no-such-image" in err.value.message


def test_name_in_use_is_a_conflict(bench: Bench) -> None:
    spec = bench.spec(env={"SLEEP": "600"})
    bench.start(spec)
    with pytest.raises(ConflictError):
        bench.runtime.start(spec)


@pytest.mark.parametrize("kind", ["podman", "docker"])
def test_unreachable_engine_is_one_line(kind: str, tmp_path: Path) -> None:
    engine = EngineSocket(kind, f"unix://{tmp_path}/missing.sock")
    runtime = PodmanRuntime(engine) if kind == "podman" else DockerRuntime(engine)
    with pytest.raises(UnavailableError) as err:
        runtime.list_pynchy()
    assert str(tmp_path) in err.value.message and "podman system service" in err.value.hint


# --- the process runtime -------------------------------------------------------------------


def test_process_runtime_keeps_host_secrets_and_maps_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-host-secret")
    monkeypatch.setenv("SOME_HOST_ONLY_VAR", "x")
    workspace, run_dir = tmp_path / "ws", tmp_path / "run"
    workspace.mkdir()
    run_dir.mkdir()
    code = (
        "import json, os, sys, pynchy_agent, pynchy_cli.protocol; "
        "print('PROBE ' + json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(), "
        "'exe': sys.executable}))"
    )
    runtime = ProcessRuntime(tmp_path / "logs")
    spec = ContainerSpec(
        name="pynchy-proc-1",
        image="unused",
        command=["python3", "-c", code],
        env={
            protocol.ENV_SOCKET: f"{protocol.SOCKET_DIR}/{protocol.SOCKET_NAME}",
            protocol.ENV_WORKSPACE: protocol.WORKSPACE,
            "HOME": "/tmp",
            "NOT_A_PATH": "/workspaces-elsewhere",
        },
        mounts=[
            Mount(str(workspace), protocol.WORKSPACE),
            Mount(str(run_dir), protocol.SOCKET_DIR),
        ],
        labels={LABEL: "r1"},
    )
    handle = runtime.start(spec)
    try:
        assert handle.pid and runtime.wait(handle, None) == 0
        line = next(x for x in runtime.logs(handle) if x.startswith("PROBE "))
    finally:
        runtime.close()
    probe = json.loads(line[len("PROBE ") :])
    env = probe["env"]
    assert "ANTHROPIC_API_KEY" not in env and "SOME_HOST_ONLY_VAR" not in env
    assert "sk-ant-host-secret" not in line
    assert env[protocol.ENV_SOCKET] == str(run_dir / protocol.SOCKET_NAME)
    assert env[protocol.ENV_WORKSPACE] == str(workspace)
    assert env["NOT_A_PATH"] == "/workspaces-elsewhere" and env["HOME"] == "/tmp"
    assert probe["cwd"] == str(workspace)
    assert probe["exe"] == sys.executable


def test_host_path_takes_the_deepest_mount() -> None:
    mounts = [Mount("/h/ws", "/workspace"), Mount("/h/mem", "/workspace/memory/")]
    assert host_path("/workspace", mounts) == "/h/ws"
    assert host_path("/workspace/a/b", mounts) == "/h/ws/a/b"
    assert host_path("/workspace/memory/x", mounts) == "/h/mem/x"
    assert host_path("/workspacex", mounts) is None


# --- selection -----------------------------------------------------------------------------


def test_process_runtime_needs_permission() -> None:
    with pytest.raises(DeniedError) as err:
        get_runtime(Settings(runtime="process"))
    assert "without isolation" in err.value.message
    assert "allow_process_runtime = true" in err.value.hint and "--runtime podman" in err.value.hint
    with pytest.raises(DeniedError):
        get_runtime(Settings(), "process")
    runtime = get_runtime(Settings(allow_process_runtime=True), "process")
    assert runtime.name == "process" and not runtime.isolated
    assert get_runtime(Settings(runtime="process", allow_process_runtime=True)) is runtime


def test_unknown_runtime_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        get_runtime(Settings(), "lxc")


@pytest.mark.podman
def test_get_runtime_picks_the_engine() -> None:
    engine = _podman_engine()
    assert isinstance(get_runtime(Settings(container_socket=engine.url)), PodmanRuntime)
    assert isinstance(get_runtime(Settings(), "podman"), PodmanRuntime)
    docker_rt = get_runtime(Settings(container_socket=engine.path), "docker")
    assert isinstance(docker_rt, DockerRuntime) and docker_rt.engine.url == engine.url


def test_container_name_is_sanitized() -> None:
    assert container_name("main", "abc123") == "pynchy-main-abc123"
    assert container_name("my group/ü", "r:1") == "pynchy-my-group---r-1"
