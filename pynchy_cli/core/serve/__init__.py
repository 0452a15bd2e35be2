"""`pynchy serve`: channels in, router, per-group queue, agent runs, replies out."""
