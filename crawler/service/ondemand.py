"""The calls for programs and agents, as ``crawler serve`` and ``crawler mcp`` hold them: one
:class:`crawler.service.calls.Desk` (one politeness for every call), the crawls it starts, and the
MCP server's streamable HTTP endpoint mounted at ``/mcp`` (when the ``mcp`` extra is there)."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from crawler._version import install_hint
from crawler.service.apicrawls import Crawls
from crawler.service.calls import Bounds, Desk
from crawler.settings import Settings

log = logging.getLogger("crawler")
MCP_PATH = "/mcp"
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


def mcp_available() -> bool:
    """Is the ``mcp`` SDK installed (the ``mcp`` extra)?"""
    return importlib.util.find_spec("mcp") is not None


class Calls:
    """The desk, the crawls under ``data``/crawls and the MCP endpoint."""

    def __init__(self, settings: Settings, bounds: Bounds, data: Path, *, allow_private: bool = False,
                 private_hosts: tuple[str, ...] = (), render: str = "never") -> None:
        self.desk = Desk(settings, bounds, allow_private=allow_private, private_hosts=private_hosts, render=render)
        self.crawls = Crawls(self.desk, data / "crawls")

    def mount_mcp(self, app: web.Application, secured: bool) -> None:
        """``/mcp`` on ``app``: the MCP server over streamable HTTP (stateless, JSON answers).
        Without a token (loopback only) the SDK's own check refuses a Host or Origin that is not
        loopback, so that no web page can reach it by DNS rebinding."""
        if not mcp_available():
            async def missing(request: web.Request) -> web.Response:
                return web.json_response({"error": f"unavailable: the MCP endpoint needs the mcp extra: "
                                                   f"{install_hint('mcp')}"}, status=501)
            app.router.add_route("*", MCP_PATH, missing)
            return
        from aiohttp_asgi import ASGIResource
        from mcp.server.transport_security import TransportSecuritySettings

        from crawler.service.mcptools import build

        server = build(self.desk, self.crawls)
        security = None if secured else TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=LOOPBACK_HOSTS,
            allowed_origins=[f"http://{h}" for h in LOOPBACK_HOSTS])
        asgi = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
                                          transport_security=security)

        class Resource(ASGIResource):
            def raw_match(self, path: str) -> bool:
                return path == MCP_PATH or path.startswith(MCP_PATH + "/")

        resource = Resource(asgi, root_path="")
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
