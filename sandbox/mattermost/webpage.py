"""The sandbox's chat page: one static page that talks to the emulator like Mattermost's webapp.

Everything the page does in chat goes through the spec-checked /api/v4 routes and the websocket
with the chosen user's token, so a contract violation shows up here too. The only page helper is
``/_sandbox/session``: which seed users exist and their tokens (the "log in as" of the sandbox).
Served to loopback clients only.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.mattermost.service import Mattermost

WEB_DIR = Path(__file__).resolve().parent / "web"
_ASSETS = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
_LOOPBACK = {"127.0.0.1", "::1"}
_LOCAL_NAMES = {"127.0.0.1", "localhost", "[::1]"}


def is_loopback(request: Request) -> bool:
    """From this machine and addressed to it by a local name: the Host check keeps a web page that
    rebinds its own domain to 127.0.0.1 from reading the tokens."""
    if request.client is None or request.client.host not in _LOOPBACK:
        return False
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.lower() in _LOCAL_NAMES


def _refused() -> Response:
    return PlainTextResponse("The sandbox page is served to this machine only.", status_code=403)


def page_routes(mm: Mattermost) -> list[Route]:
    async def index(request: Request) -> Response:
        if not is_loopback(request):
            return _refused()
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-store"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if not is_loopback(request):
            return _refused()
        if name not in _ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(WEB_DIR / name, media_type=_ASSETS[name], headers={"Cache-Control": "no-store"})

    async def session(request: Request) -> Response:
        if not is_loopback(request):
            return _refused()
        with mm.store.lock:
            users = [
                {
                    "username": u.username,
                    "id": u.id,
                    "display_name": " ".join(p for p in (u.first_name, u.last_name) if p) or u.username,
                    "is_bot": u.is_bot,
                    # Bots are not people one acts as; their tokens stay on the server side.
                    "token": "" if u.is_bot else u.token,
                }
                for u in mm.store.users.values()
            ]
            team = mm.store.team.name
        return JSONResponse({"team_name": team, "users": users})

    return [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", asset, methods=["GET"]),
        Route("/_sandbox/session", session, methods=["GET"]),
    ]
