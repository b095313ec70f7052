"""The web dashboard: a static single-page app under `/ui`, shipped inside the package (works offline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/ui")
def redirect_to_dashboard() -> RedirectResponse:
    """`/ui` -> `/ui/`, so the page's relative asset paths resolve (a relative Location survives a proxy prefix)."""
    return RedirectResponse("ui/", status_code=307)


def install(app: FastAPI) -> None:
    """Serve `app/api/static/` at `/ui/` (index.html for the folder itself)."""
    app.include_router(router)
    app.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
