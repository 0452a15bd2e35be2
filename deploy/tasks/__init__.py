"""pynchy's packaged deploys, one step each, in the order deploy/pynchy.py runs them.

Each is a pyinfra `@deploy(...)` with the data defaults of deploy/util/defaults.py, so it
can be used on its own from another deploy: `from deploy.tasks.service import service`.
"""
