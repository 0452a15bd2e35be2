"""Updating a running pynchy from outside: `POST /admin/update` pulls (or pip-upgrades)
its install and restarts serve (core.serve.admin)."""
