"""`pynchy plugin install` reports what the next `pynchy` will load: an editable install of
a freshly scaffolded plugin works at once, and reinstalling or installing several specs
warns only about a distribution that really has no pynchy plugin."""

from __future__ import annotations

import textwrap

import pytest
from test_plugins import Venv
from typer.testing import CliRunner

from pynchy_cli.cli.main import app


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("editable")
    venv, home = Venv(root / "venv"), root / "home"
    done = CliRunner().invoke(
        app, ["plugin", "new", "weather", "--kind", "mcp", "--dir", str(root / "weather")]
    )
    assert done.exit_code == 0, done.output
    plain = root / "plain"
    (plain / "pynchy_plain").mkdir(parents=True)
    (plain / "pynchy_plain" / "__init__.py").write_text("")
    (plain / "pyproject.toml").write_text(
        textwrap.dedent("""\
            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"

            [project]
            name = "pynchy-plain"
            version = "1.0"
            """)
    )
    return venv, home, root / "weather", plain


def install(env, *args: str) -> str:
    venv, home, _weather, _plain = env
    done = venv.pynchy(home, "plugin", "install", *args)  # as the scaffold says to
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_an_editable_install_of_a_scaffolded_plugin_works_at_once(env) -> None:
    venv, home, weather, _plain = env
    said = install(env, "-e", str(weather))
    assert "installed plugin weather 0.1.0 from pynchy-weather (mcp; enabled)" in said
    assert "broken" not in said and "failed to import" not in said and "warning" not in said
    listed = venv.pynchy(home, "plugin", "list")
    assert "weather\t0.1.0\tmcp\tenabled\tpynchy-weather" in listed.stdout


def test_reinstalling_and_several_specs_warn_only_about_a_plain_package(env) -> None:
    _venv, _home, weather, plain = env
    again = install(env, "-e", str(weather))
    assert "reinstalled plugin weather 0.1.0 from pynchy-weather (mcp; enabled)" in again
    assert "adds no pynchy plugin" not in again
    both = install(env, str(plain), "-e", str(weather))
    assert "plugin weather 0.1.0 from pynchy-weather (mcp; enabled)" in both
    warnings = [line for line in both.splitlines() if "warning" in line]
    assert warnings == [
        "pynchy: warning: pynchy-plain adds no pynchy plugin (it has no 'pynchy' entry point)"
    ]
    by_name = install(env, "pynchy-weather")  # already satisfied: pip does nothing
    assert "already installed plugin weather 0.1.0 from pynchy-weather (mcp; enabled)" in by_name
    assert "warning" not in by_name
