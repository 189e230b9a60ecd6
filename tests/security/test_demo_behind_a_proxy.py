"""The embedded default served through a reverse proxy (a hosted demo) keeps working
now that the sandboxes' control surfaces refuse relayed requests: the demo
onboards its Stripe account in-process, not through its own public address."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web

from tests.conftest import free_port
from tests.security.support import serving, settings_for

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


def reverse_proxy(upstream: str) -> web.Application:
    """What nginx does in front of the app: forward everything, saying whom for."""

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote or "203.0.113.9"
        headers["X-Forwarded-Proto"] = "http"
        async with aiohttp.ClientSession() as http, http.request(
            request.method, upstream + request.path_qs, headers=headers, data=await request.read(),
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
            return web.Response(status=resp.status, body=body, headers=out)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def test_a_demo_behind_a_proxy_onboards_its_account(tmp_path: Path) -> None:
    proxy_port = free_port()
    settings = settings_for(tmp_path, PUBLIC_URL=f"http://127.0.0.1:{proxy_port}")
    async with serving(settings) as (app_url, http):
        runner = web.AppRunner(reverse_proxy(app_url))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", proxy_port).start()
        try:
            async with http.get(settings.public_url + "/demo") as resp:
                assert resp.status == 200, await resp.text()
            # The control surface itself stays closed to whoever comes through the proxy.
            async with http.get(settings.public_url + "/_sandbox/medipay/_control/claims") as resp:
                assert resp.status == 403
        finally:
            await runner.cleanup()
