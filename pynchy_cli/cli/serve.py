"""`pynchy serve`."""
