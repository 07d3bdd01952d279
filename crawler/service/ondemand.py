"""The calls for programs and agents, as ``crawler serve`` and ``crawler mcp`` hold them: one
:class:`crawler.service.calls.Desk` (one politeness for every call), the crawls it starts, and the
MCP server's streamable HTTP endpoint mounted at ``/mcp`` (when the ``mcp`` extra is there)."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from crawler._version import install_hint
from crawler.service.apicrawls import Crawls
from crawler.service.calls import Bounds, Desk
from crawler.settings import Settings

log = logging.getLogger("crawler")
MCP_PATH = "/mcp"


def mcp_available() -> bool:
    """Is the ``mcp`` SDK installed (the ``mcp`` extra)?"""
    return importlib.util.find_spec("mcp") is not None


def _mcp_resource(asgi: Any) -> Any:
    """``asgi`` (the MCP SDK's app) at :data:`MCP_PATH`, its request bodies read whole first
    within the app's ``client_max_size`` (413 past it, however they are sent: aiohttp_asgi
    streams them to the ASGI app unbounded)."""
    from aiohttp_asgi.resource import ASGIContext, ASGIMatchInfo, ASGIResource

    class Context(ASGIContext):
        def __init__(self, request: web.Request, body: bytes) -> None:
            super().__init__(asgi, request, "")
            self.body: bytes | None = body

        async def on_receive(self) -> dict[str, Any]:
            if self.body is None or self.is_websocket():
                return await super().on_receive()
            body, self.body = self.body, None
            return {"type": "http.request", "body": body, "more_body": False}

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()  # bounded: HTTPRequestEntityTooLarge past client_max_size
        return await Context(request, body).get_response()

    class Resource(ASGIResource):
        def raw_match(self, path: str) -> bool:
            return path == MCP_PATH or path.startswith(MCP_PATH + "/")

        async def resolve(self, request: web.Request) -> tuple[Any, set[str]]:
            if not self.raw_match(request.path):
                return None, set()
            return ASGIMatchInfo(handle), set(hdrs.METH_ALL)

    return Resource(asgi, root_path="")


class Calls:
    """The desk, the crawls under ``data``/crawls and the MCP endpoint."""

    def __init__(self, settings: Settings, bounds: Bounds, data: Path, *, allow_private: bool = False,
                 private_hosts: tuple[str, ...] = (), render: str = "never") -> None:
        self.desk = Desk(settings, bounds, allow_private=allow_private, private_hosts=private_hosts, render=render)
        self.crawls = Crawls(self.desk, data / "crawls")

    def mount_mcp(self, app: web.Application) -> None:
        """``/mcp`` on ``app``: the MCP server over streamable HTTP (stateless, JSON answers).
        The app's own checks guard it as every route (the ``Host`` against the service's names,
        against DNS rebinding; the token; cross-site posts), so the SDK's Host check, which
        knows only loopback, is off."""
        if not mcp_available():
            async def missing(request: web.Request) -> web.Response:
                return web.json_response({"error": f"unavailable: the MCP endpoint needs the mcp extra: "
                                                   f"{install_hint('mcp')}"}, status=501)
            app.router.add_route("*", MCP_PATH, missing)
            return
        from mcp.server.transport_security import TransportSecuritySettings

        from crawler.service.mcptools import build

        server = build(self.desk, self.crawls)
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        asgi = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
                                          transport_security=security)

        resource = _mcp_resource(asgi)
        app.router.register_resource(resource)

        async def lifespan(_: web.Application) -> AsyncIterator[None]:
            # The SDK's task group is entered and left in one task of its own (the app's start
            # and cleanup may run in different tasks).
            ready, done = asyncio.Event(), asyncio.Event()

            async def hold() -> None:
                async with server.session_manager.run():
                    ready.set()
                    await done.wait()

            task = asyncio.get_running_loop().create_task(hold())
            await asyncio.wait([task, asyncio.ensure_future(ready.wait())], return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # it could not start: say why
            yield
            done.set()
            await task

        app.cleanup_ctx.append(lifespan)

    async def open(self) -> None:
        """Go on with the crawls under way when the service last stopped."""
        await self.crawls.open()

    async def close(self) -> None:
        """Stop the crawls under way (each goes on at the next start)."""
        await self.crawls.close()


__all__ = ["MCP_PATH", "Calls", "mcp_available"]
