"""Socket.IO WebSockets are not compressed: a zlib state per socket cost more memory than it saved."""

from __future__ import annotations

import json

import aiohttp

from tests.factories import Live


async def test_the_permessage_deflate_offer_is_declined(live: Live) -> None:
    url = live.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15) as ws:
        assert ws.compress == 0  # the answer named no extension
        opened = await ws.receive_str(timeout=5)
        assert opened.startswith("0")  # engine.io's open packet, as plain text
        assert json.loads(opened[1:])["sid"]


async def test_a_client_that_offers_nothing_connects_as_before(live: Live) -> None:
    url = live.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        assert ws.compress == 0
        assert (await ws.receive_str(timeout=5)).startswith("0")
