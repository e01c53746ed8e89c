"""Writing answers: every JSON body is a ``protocol`` model, encoded one way."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from protocol.views import dump


def reply(body: BaseModel, status: int = 200) -> web.Response:
    """``body`` as JSON (unset optional fields absent; see ``protocol.views.dump``)."""
    return web.Response(text=dump(body), status=status, content_type="application/json")
