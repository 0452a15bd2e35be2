"""Container runtimes: podman, docker, and the unisolated `process` runtime for development."""
