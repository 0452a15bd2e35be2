"""The web page `pynchy serve` shows on its API address: chat with groups, approvals,
runs and their transcripts, tasks, usage and health.

Server-rendered HTML (html.py escapes by default) with one small hand-written script
(static/app.js) for the live parts, behind a login that turns the API token into a
session cookie (auth.py, sessions.py, links.py). routes.py mounts it on the local API's
application (`pynchy_cli/core/serve/api.py:make_app`).
"""
