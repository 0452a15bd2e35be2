"""The git-managed backlog: TODO.md as the index, one plan file per item in a status folder.

- model: statuses and their folders, slugs and short titles
- index: parsing and editing TODO.md
- plans: the plan file format (and the README that documents it)
- git: the git commands used (status, mv, add, commit)
- store: a backlog on disk: find items, add, move
- importer: turn an existing index into plan files
- check: does the index agree with the folders; repair what is safe
"""

from pynchy_cli.core.backlog.model import STATUSES, Status, parse_status
from pynchy_cli.core.backlog.store import Backlog, Item

__all__ = ["STATUSES", "Backlog", "Item", "Status", "parse_status"]
