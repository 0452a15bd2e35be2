"""A server over SSH: copy this file, put in your host, and run

    ANTHROPIC_API_KEY=... pynchy deploy inventories/myserver.py --dry   # what would change
    ANTHROPIC_API_KEY=... pynchy deploy inventories/myserver.py         # asks, then deploys

(or plain pyinfra: `pyinfra inventories/myserver.py deploy/pynchy.py`). Every key the deploy
reads, with its default, is in group_data/all.py (it applies to every inventory in this
folder); set here only what differs. Secrets are named, never written here: an account's
`api_key_env` is read from the deployer's environment, `api_key_file` from a file on the
deployer.

SSH: pyinfra connects with paramiko, reading ~/.ssh/config and the SSH agent like `ssh` does.
A host's key is recorded in ~/.ssh/known_hosts on the first connect and checked on every
later one (ssh's StrictHostKeyChecking=accept-new; `pynchy deploy` creates an empty
known_hosts if there is none). For a stricter first connect, put the host's key there first
(`ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts`, then compare its fingerprint) and set
"ssh_strict_host_key_checking": "yes".
"""

servers = [
    (
        "pynchy.example.org",
        {
            # pyinfra's SSH settings: log in as root, or as a sudoer with "_sudo": True.
            "ssh_user": "root",
            # "ssh_port": 22,
            # "ssh_key": "~/.ssh/id_ed25519",  # default: the agent and ~/.ssh's usual keys
            # "ssh_known_hosts_file": "~/.ssh/known_hosts",
            # "ssh_strict_host_key_checking": "accept-new",  # or "yes", "no", "ask"
            #
            # pynchy from this checkout: built into a wheel here and uploaded (pynchy is not
            # on PyPI). Or a pip URL: "git+https://github.com/OWNER/pynchy@main".
            "pynchy_source": "local",
            "pynchy_plugins": [],  # e.g. ["plugins/pynchy-telegram"] or a pip requirement
            "pynchy_accounts": {
                "anthropic": {"provider": "anthropic", "api_key_env": "ANTHROPIC_API_KEY"},
            },
            "pynchy_config": {
                "assistant_name": "Pynchy",
                "model": "anthropic:claude-sonnet-4-5",
                "account": "anthropic",
            },
            "pynchy_periodic_agents": [
                # Written as [periodic.morning-digest] in config.toml, with its timer.
                {
                    "name": "morning-digest",
                    "schedule": "0 7 * * *",
                    "group": "main",
                    "prompt": "Summarise yesterday's messages in five lines.",
                },
            ],
        },
    ),
]
