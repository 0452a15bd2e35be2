"""A server over SSH: copy this file, put in your host, and run

    ANTHROPIC_API_KEY=... pynchy deploy inventories/myserver.py
    ANTHROPIC_API_KEY=... pyinfra inventories/myserver.py deploy/pynchy.py

Every key the deploy reads, with its default, is in group_data/all.py (it applies to every
inventory in this folder); set here only what differs. Secrets are named, never written here:
an account's `api_key_env` is read from the deployer's environment, `api_key_file` from a file
on the deployer.
"""

servers = [
    (
        "pynchy.example.org",
        {
            # pyinfra's SSH settings: log in as root, or as a sudoer with "_sudo": True.
            "ssh_user": "root",
            # Install the release from PyPI; "local" uploads this checkout as a wheel, and a
            # URL such as "git+https://github.com/OWNER/pynchy@main" installs from git.
            "pynchy_source": "pypi",
            "pynchy_plugins": [],  # e.g. ["plugins/pynchy-telegram"] or a PyPI name
            "pynchy_accounts": {
                "anthropic": {"provider": "anthropic", "api_key_env": "ANTHROPIC_API_KEY"},
            },
            "pynchy_config": {
                "assistant_name": "Pynchy",
                "model": "anthropic:claude-sonnet-4-5",
                "account": "anthropic",
            },
            "pynchy_periodic_agents": [
                {"name": "morning-digest", "schedule": "*-*-* 07:00:00"},
            ],
        },
    ),
]
