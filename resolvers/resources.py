"""Where a resolver finds the process's resources (store engine, settings, flows).

A module of its own, importing nothing from the resolvers at run time, so the
lowest layers of the graph (permissions, the audit trail) can reach the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resolvers.context import AppInfo

__all__ = ["resources_of"]


def resources_of(info: AppInfo) -> Any:
    """The process's resources (engine, settings): on the context, or on the request."""
    found = getattr(info.context, "resources", None)
    if found is None and info.context.request is not None:
        found = getattr(info.context.request.state, "resources", None)
    if found is None:
        raise RuntimeError("this request's context reaches no store")
    return found
