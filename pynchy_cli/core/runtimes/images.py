"""The agent image as seen by a container engine."""

from __future__ import annotations

import docker
import docker.errors

from pynchy_cli.core.runtimes.detect import EngineSocket


def engine_client(engine: EngineSocket) -> docker.DockerClient:
    """A Docker-API client; podman's service speaks the same API on its socket."""
    return docker.DockerClient(base_url=engine.url, timeout=60)


def image_exists(engine: EngineSocket, image: str) -> bool:
    client = engine_client(engine)
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()
