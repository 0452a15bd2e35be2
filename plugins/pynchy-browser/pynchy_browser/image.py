"""The browser image: its recipe (recipe/Containerfile and entrypoint.py), whether the
engine has a current one, and building it.

    python -m pynchy_browser.image build [--force]    # about a minute: chromium via apt
    python -m pynchy_browser.image status

Both read [plugin.browser] of pynchy's config.toml (image, base, engine). The image is
labelled with the sha256 of its recipe; a build is skipped while the label matches, so
it is built once per recipe and kept under its fixed tag. The MCP server builds it on
first use when it is missing or stale.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pynchy_cli import NotFoundError, PynchyError, UnavailableError

RECIPE_DIR = Path(__file__).resolve().parent / "recipe"
RECIPE_FILES = ("Containerfile", "entrypoint.py")
RECIPE_LABEL = "pynchy.browser.recipe"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_CA = "/tmp/pynchy-host-ca.crt"  # where the recipe looks for it (not the image's own)
BUILD_TIMEOUT = 1800.0  # seconds; apt fetches about 100 MB

OnLine = Callable[[str], None]


def engine_argv(engine: str) -> list[str]:
    found = shutil.which(engine)
    if found is None:
        raise UnavailableError(
            f"the container command {engine!r} is not installed",
            "Install podman (apt-get install podman) or set engine in [plugin.browser]",
        )
    return [found]


def recipe_hash() -> str:
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update(name.encode() + b"\0" + (RECIPE_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _label(engine: str, image: str) -> str | None:
    """The image's recipe label ("" when it has none); None when the engine lacks it."""
    done = subprocess.run(
        [
            *engine_argv(engine),
            "image",
            "inspect",
            "--format",
            f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}',
            image,
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return None
    label = done.stdout.strip()
    return "" if label == "<no value>" else label


def image_state(engine: str, image: str) -> str:
    """missing, stale (built from another recipe) or current."""
    label = _label(engine, image)
    if label is None:
        return "missing"
    return "current" if label == recipe_hash() else "stale"


def build_hint(image: str) -> str:
    return f"Build it with: python -m pynchy_browser.image build (about a minute; makes {image})"


def build_image(
    engine: str, image: str, base: str, *, force: bool = False, on_line: OnLine | None = None
) -> float | None:
    """Build `image` FROM `base` unless it is current (then None); the seconds it took."""
    say = on_line or (lambda _line: None)
    if not force and image_state(engine, image) == "current":
        return None
    if _label(engine, base) is None:
        raise NotFoundError(
            f"the browser image's base {base} is not there",
            "Run `pynchy agent image build` (it makes localhost/pynchy-base:bookworm where"
            " no image registry is reachable) or set base in [plugin.browser] to a Debian image",
        )
    argv = [*engine_argv(engine), "build", "--tag", image, "--file", "Containerfile"]
    if HOST_CA.is_file():  # https mirrors behind a TLS-inspecting proxy
        argv += ["--volume", f"{HOST_CA}:{BUILD_CA}:ro"]
    # The label on the command line, not a build ARG: podman's layer cache keeps old ARGs.
    argv += ["--build-arg", f"BASE={base}", "--label", f"{RECIPE_LABEL}={recipe_hash()}", "."]
    say(f"building {image} from {base}")
    before = _image_id(engine, image)
    started = time.monotonic()
    done = subprocess.Popen(
        argv,
        cwd=RECIPE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    last = ""
    try:
        assert done.stdout is not None
        for line in done.stdout:
            last = line.rstrip() or last
            say(line.rstrip())
        code = done.wait(BUILD_TIMEOUT)
    except BaseException:
        done.kill()
        done.wait()
        raise
    if code != 0:
        raise PynchyError(
            f"building {image} failed ({engine} build exited {code}: {last or 'no output'})",
            "See the build output above",
        )
    took = time.monotonic() - started
    if before and before != _image_id(engine, image):  # the old one, untagged: drop it
        subprocess.run([*engine_argv(engine), "rmi", before], capture_output=True)
    return took


def _image_id(engine: str, image: str) -> str | None:
    argv = [*engine_argv(engine), "image", "inspect", "--format", "{{.Id}}", image]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    from pynchy_browser.config import NAME, load_config

    parser = argparse.ArgumentParser(prog="python -m pynchy_browser.image")
    parser.add_argument("action", choices=["build", "status"])
    parser.add_argument("--force", action="store_true", help="build even if it is current")
    args = parser.parse_args(argv)
    try:
        config = load_config(_plugin_table(NAME))
        if args.action == "status":
            print(f"{config.image}: {image_state(config.engine, config.image)}")
            return 0
        took = build_image(
            config.engine, config.image, config.base, force=args.force, on_line=print
        )
        print(
            f"{config.image}: " + ("already current" if took is None else f"built in {took:.0f}s")
        )
        return 0
    except PynchyError as exc:
        print(f"pynchy-browser: error: {exc.line()}", file=sys.stderr)
        return 1


def _plugin_table(name: str) -> dict:
    """[plugin.NAME] of the user's config.toml, read as pynchy would find it."""
    import tomllib

    from pynchy_cli import resolve_paths

    path = resolve_paths().config_file
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return dict(tomllib.load(handle).get("plugin", {}).get(name, {}))


if __name__ == "__main__":
    sys.exit(main())
