"""Scaling over Ray (scaling = "ray"): Ray decides when and where a run happens; the node's
container runtime runs the container; serve, on its own node, keeps every secret and answers
every model call and host tool. Only serve and `pynchy node` import the modules that import
ray; local mode never does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pynchy_cli.core.errors import UnavailableError

if TYPE_CHECKING:
    from pynchy_cli.core.context import Context

INSTALL_HINT = "Install the extra: pip install 'pynchy[ray]'"


def ray_pool(ctx: Context, *, runtime: str | None) -> Any:
    """serve's pool when scaling is ray (core/scaling/pool.py:RayPool). Ray's environment is
    set first: Ray reads it when it is first imported."""
    from pynchy_cli.core.scaling.auth import prepare_driver

    address = ctx.settings.ray.address
    prepare_driver(ctx.paths, address)
    try:
        from pynchy_cli.core.scaling.pool import RayPool
    except ImportError as exc:
        raise UnavailableError(
            f"scaling = ray needs Ray ({exc.name} is missing)", INSTALL_HINT
        ) from None
    return RayPool(ctx, runtime=runtime, address=address)
