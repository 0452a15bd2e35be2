"""pyinfra deploys that take a bare Debian host to a running pynchy service.

`deploy/pynchy.py` is the whole installation; `deploy/tasks/*.py` are its steps, each a
packaged deploy (`@deploy(...)`) usable on its own; `deploy/util/` holds what they share.
Every data key they read, with its default, is in `deploy/util/defaults.py` and documented
in `inventories/group_data/all.py`.
"""
