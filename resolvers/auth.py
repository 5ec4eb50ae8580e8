from __future__ import annotations

from resolvers.context import Info
from resolvers.errors import unauthenticated
from services.organizations.api_keys import Viewer


def require_viewer(info: Info) -> Viewer:
    viewer = info.context.viewer
    if viewer is None:
        raise unauthenticated()
    return viewer
