"""Settings come from the environment or [plugin.email]; what is missing is one clear line
for `pynchy doctor`; the registered MCP server carries the settings in its own
environment, on the host."""

from __future__ import annotations

from pathlib import Path

import pytest
from pynchy_email.config import account, check, sender, server_values
from pynchy_email.plugin import email_server, pynchy_mcp_servers

from pynchy_cli import ConfigError, McpServer, Settings, testing

TABLE = {
    "imap_host": "imap.example.com",
    "imap_user": "ann@example.com",
    "imap_password": "imap-s3cret",
    "smtp_host": "smtp.example.com",
}


def settings(**table) -> Settings:
    return testing.plugin_settings("email", table)


def test_defaults_ports_security_and_smtp_login_from_imap():
    values, problems = check(TABLE, {})
    assert problems == []
    imap, smtp = account("imap", values), account("smtp", values)
    assert (imap.host, imap.port, imap.security) == ("imap.example.com", 993, "ssl")
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.example.com", 587, "starttls")
    assert (smtp.user, smtp.password) == ("ann@example.com", "imap-s3cret")
    assert sender(values) == "ann@example.com"
    assert "imap-s3cret" not in repr(imap) and "imap-s3cret" not in repr(smtp)
    plain = account("smtp", check({**TABLE, "smtp_security": "ssl"}, {})[0])
    assert plain.port == 465


def test_environment_wins_over_config_toml():
    environ = {"EMAIL_IMAP_PORT": "1143", "EMAIL_IMAP_SECURITY": "none", "EMAIL_FROM": "A <a@b.c>"}
    values, _ = check(TABLE, environ)
    assert (account("imap", values).port, account("imap", values).security) == (1143, "none")
    assert sender(values) == "A <a@b.c>"


def test_missing_settings_are_one_line_with_a_hint():
    values = server_values({})
    with pytest.raises(ConfigError) as err:
        account("imap", values)
    assert err.value.message == "email: no IMAP host (EMAIL_IMAP_HOST): no reading"
    assert "EMAIL_IMAP_PASSWORD" in err.value.hint and "[plugin.email]" in err.value.hint
    assert "\n" not in err.value.line()
    with pytest.raises(ConfigError) as err:
        account("imap", server_values({"EMAIL_IMAP_HOST": "x", "EMAIL_IMAP_USER": "u"}))
    assert err.value.message == "email: EMAIL_IMAP_PASSWORD is not set"
    with pytest.raises(ConfigError) as err:
        sender(server_values({"EMAIL_SMTP_HOST": "x", "EMAIL_SMTP_USER": "not-an-address"}))
    assert "EMAIL_FROM" in err.value.message


def test_doctor_problems_through_the_hook():
    plugins = testing.load_plugins()
    assert "pynchy-email" in plugins.infos["email"].source
    assert plugins.infos["email"].kinds == ["mcp"]
    [nothing] = plugins.doctor_problems(settings())["email"]
    assert (nothing.kind, nothing.what) == ("mcp", "email: no IMAP or SMTP host is set")
    assert plugins.doctor_problems(settings(**TABLE))["email"] == []
    # reading alone is a choice, not a problem
    reading = {k: v for k, v in TABLE.items() if k != "smtp_host"}
    assert plugins.doctor_problems(settings(**reading))["email"] == []
    odd = settings(**TABLE, imap_security="tls", smtp_port="smtp", groups="main", colour="red")
    assert [p.what for p in plugins.doctor_problems(odd)["email"]] == [
        "email: imap_security 'tls' is not one of ssl, starttls, none",
        "email: smtp_port 'smtp' is not a port number",
        "email: [plugin.email] groups is not a list of group names",
        "email: unknown setting [plugin.email] colour",
    ]
    assert all(p.fix for p in plugins.doctor_problems(odd)["email"])


def test_config_show_masks_the_passwords():
    shown = testing.masked(settings(**TABLE, smtp_password="smtp-s3cret"))["plugin"]["email"]
    assert "imap-s3cret" not in str(shown) and "smtp-s3cret" not in str(shown)


def test_registered_factory_makes_the_server_from_the_settings(pynchy_home: Path):
    registered: list[tuple] = []
    pynchy_mcp_servers(lambda *args: registered.append(args))
    [(name, factory)] = registered
    assert name == "email" and factory is email_server
    imap = {k: v for k, v in TABLE.items() if k.startswith("imap_")}
    server = factory(settings(**imap, groups=["main"]))
    assert isinstance(server, McpServer)
    assert server.command[1:] == ["-m", "pynchy_email.server"]
    assert server.env == {
        "EMAIL_IMAP_HOST": "imap.example.com",
        "EMAIL_IMAP_USER": "ann@example.com",
        "EMAIL_IMAP_PASSWORD": "imap-s3cret",
        "EMAIL_SMTP_USER": "ann@example.com",
        "EMAIL_SMTP_PASSWORD": "imap-s3cret",
        "EMAIL_FROM": "ann@example.com",
    }
    assert server.groups == ["main"]
    assert "imap-s3cret" not in repr(server)


def test_unconfigured_means_no_server_and_one_side_is_enough():
    assert email_server(settings()) is None
    assert email_server(settings(imap_host="imap.example.com")) is None  # no login
    sending = {"EMAIL_SMTP_HOST": "smtp.example.com", "EMAIL_SMTP_USER": "ann@example.com"}
    assert email_server(settings(), sending) is None  # no password
    server = email_server(settings(), {**sending, "EMAIL_SMTP_PASSWORD": "pw"})
    assert server is not None and server.groups is None  # sending only, every group
    with pytest.raises(ValueError, match="groups must be a list"):
        email_server(settings(**TABLE, groups="main"))  # pynchy turns it into a warning
