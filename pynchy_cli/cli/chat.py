"""`pynchy chat`."""
