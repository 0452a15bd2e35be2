"""One agent run, host side: prompt, socket, container, transcript."""
