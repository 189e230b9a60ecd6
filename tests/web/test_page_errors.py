"""A domain error that reaches the error middleware from a page (not the API) is a real HTTP answer."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web

from app.keys import CONSULTS
from tests.conftest import FAST_MEDIPAY_SANDBOX, FAST_SANDBOX, make_settings
from tests.factories import Live


async def _participant_page(request: web.Request) -> web.StreamResponse:
    """A page that, like the panels, asks the consult service who holds a link, and lets its error through."""
    who = await request.app[CONSULTS].participant(request.match_info["token"])
    return web.Response(text=who.role)


async def test_a_domain_error_on_a_page_is_answered_with_its_status_in_the_readers_language(tmp_path: Path) -> None:
    from app.factory import create_app

    settings = make_settings(tmp_path)
    app = create_app(
        settings, sandbox_options=FAST_SANDBOX, medipay_sandbox_options=FAST_MEDIPAY_SANDBOX, run_jobs=False
    )
    app.router.add_get("/page/participant/{token}", _participant_page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    try:
        async with aiohttp.ClientSession() as http:
            url = settings.public_url + "/page/participant/not-a-token"
            async with http.get(url, headers={"Accept-Language": "nb"}) as resp:
                page = await resp.text()
                # The service refuses an unknown link with Unauthenticated (401); the
                # page said -1 before, which no browser or proxy understands.
                assert resp.status == 401
                assert resp.content_type == "text/html"
                assert resp.headers["Cache-Control"] == "no-store"
                assert "Noe gikk galt" in page  # the error page, in the reader's language
                assert "Lenken er ugyldig eller har utløpt." in page
    finally:
        await runner.cleanup()


async def test_an_address_that_leads_nowhere_gets_a_page_in_the_readers_language(live: Live) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(live.url + "/no/such/page", headers={"Accept-Language": "nb"}) as resp:
            page = await resp.text()
            assert resp.status == 404 and resp.content_type == "text/html"
            assert "Fant ikke siden" in page and "Sjekk lenken du fulgte." in page
        async with http.post(live.url + "/demo", headers={"Accept-Language": "en"}) as resp:
            page = await resp.text()
            assert resp.status == 405 and "GET" in resp.headers["Allow"]
            assert "This page cannot be used like that" in page
        # The API and the sandboxes keep their own error shapes.
        async with http.get(live.url + "/api/v1/no-such-thing") as resp:
            assert resp.status == 404 and resp.content_type == "application/json"
        async with http.get(live.url + "/_sandbox/stripe/v1/no-such-thing") as resp:
            assert resp.status == 404 and "Fant ikke siden" not in await resp.text()
