"""tus' `X-HTTP-Method-Override`: a client behind a proxy that passes only GET and POST sends its PATCH or DELETE
as a POST naming the method it means. Applied outermost, so that the body cap, the API keys' roles and routing
all see the method meant; only on an upload's own path (`/uploads/{id}`), and only for the methods tus has there.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import error_before_routing
from app.uploads.headers import TUS_VERSION

HEADER = b"x-http-method-override"
UPLOAD_PATH = "/uploads/"
OVERRIDABLE = ("PATCH", "DELETE")
TITLE, CODE = "Unsupported method override", "method_override_unsupported"


class MethodOverride:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(UPLOAD_PATH):
            value = dict(scope["headers"]).get(HEADER)
            if value is not None:
                method = value.decode("latin-1").strip().upper()
                if method not in OVERRIDABLE:
                    detail = (
                        f"X-HTTP-Method-Override on an upload must be one of {list(OVERRIDABLE)}; got {method[:20]!r}"
                    )
                    response = error_before_routing(
                        scope["path"], 400, TITLE, CODE, detail, headers={"Tus-Resumable": TUS_VERSION}
                    )
                    return await response(scope, receive, send)
                scope = {**scope, "method": method}
        await self.app(scope, receive, send)
