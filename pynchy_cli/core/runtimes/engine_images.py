"""Asking the engine about images: whether one exists, its inspect data and labels, and
removing one, through a Docker-API client (podman's service speaks the same API)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pynchy_cli.core.runtimes.detect import EngineSocket

if TYPE_CHECKING:
    import docker


def engine_client(engine: EngineSocket) -> docker.DockerClient:
    """A Docker-API client; podman's service speaks the same API on its socket."""
    import docker  # imported on use: it costs every pynchy command ~0.15 s otherwise

    return docker.DockerClient(base_url=engine.url, timeout=60)


def image_exists(engine: EngineSocket, image: str) -> bool:
    return inspect_image(engine, image) is not None


def inspect_image(engine: EngineSocket, image: str) -> dict[str, Any] | None:
    """The engine's inspect data for an image, or None if there is no such image."""
    from docker.errors import ImageNotFound

    client = engine_client(engine)
    try:
        return client.images.get(image).attrs
    except ImageNotFound:
        return None
    finally:
        client.close()


def image_labels(attrs: dict[str, Any] | None) -> dict[str, str]:
    """The labels in an image's inspect data ({} for no image)."""
    if not attrs:
        return {}
    return (attrs.get("Config") or {}).get("Labels") or {}


def short_id(attrs: dict[str, Any] | None) -> str | None:
    """The first 12 hex digits of an image's id, as `podman images` shows it."""
    if not attrs:
        return None
    return (attrs.get("Id") or "").removeprefix("sha256:")[:12] or None


def remove_unused_image(engine: EngineSocket, image_id: str) -> None:
    """Remove an image unless something still uses it (another tag, a container)."""
    from docker.errors import APIError

    client = engine_client(engine)
    try:
        client.images.remove(image_id)
    except APIError:
        pass  # still tagged elsewhere, or a container uses it
    finally:
        client.close()
