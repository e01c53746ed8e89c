"""The browser client: ``client/web/`` served as it is, nothing built.

``/``, ``/join`` and ``/organise`` answer the one page (``index.html``); its scripts, styles and
vendored libraries are under ``/web/``. Only files of the listed kinds are served, never the
npm files that pin the vendored libraries. Every answer carries the strict security headers of
:mod:`server.web.security`, which the page works under unchanged.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[2] / "client" / "web"
"""The client's files (a sibling of the Python client, shipped in the same wheel)."""

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
NOT_SERVED = frozenset({"node_modules", "package.json", "package-lock.json"})

routes = web.RouteTableDef()


def _file_response(path: Path) -> web.Response:
    response = web.Response(body=path.read_bytes())
    response.content_type = CONTENT_TYPES[path.suffix]
    if path.suffix in {".html", ".js", ".css"}:
        response.charset = "utf-8"
    # Always revalidate: a deploy must never leave an old module next to a new one.
    response.headers["Cache-Control"] = "no-cache"
    return response


async def _page(request: web.Request) -> web.Response:
    return _file_response(ROOT / "index.html")


routes.get("/")(_page)
routes.get("/join")(_page)
routes.get("/organise")(_page)


def _served(relative: str) -> Path | None:
    """The client file ``relative`` names, or ``None`` if it is not one we serve.

    A name the system cannot look up (a NUL byte, a component past ``NAME_MAX``) is a file we
    do not have, like any other.
    """
    if any(p.startswith(".") or p in NOT_SERVED for p in Path(relative).parts):
        return None
    try:
        path = (ROOT / relative).resolve()
        if path.is_relative_to(ROOT) and path.suffix in CONTENT_TYPES and path.is_file():
            return path
    except (OSError, ValueError):
        pass
    return None


@routes.get("/web/{path:.+}")
async def asset(request: web.Request) -> web.Response:
    path = _served(request.match_info["path"])
    if path is None:
        raise web.HTTPNotFound()
    return _file_response(path)
