"""One attempt at delivering a signed event over HTTP, as both sandboxes do it.

The Stripe sandbox's webhooks and the MediPay sandbox's callbacks keep their
own queues, signatures and retry rules; this is the part they share: POST the
body, and note in ``attempt`` what came back (status, the start of the body)
or why nothing did (timeout, connection error), and how long it took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import aiohttp


async def post_attempt(
    session: aiohttp.ClientSession,
    url: str,
    payload: str,
    headers: Mapping[str, str],
    timeout_s: float,
    attempt: dict[str, Any],
) -> bool:
    """POST ``payload`` to ``url``; fill ``attempt`` and say whether the receiver took it (2xx)."""
    started = time.time()
    ok = False
    try:
        async with session.post(
            url, data=payload.encode(), headers=dict(headers), timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as resp:
            attempt["http_status"] = resp.status
            attempt["response_body"] = (await resp.text(errors="replace"))[:500]
            ok = 200 <= resp.status < 300
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        attempt["error"] = "timeout"
    except aiohttp.ClientError as e:
        attempt["error"] = f"{type(e).__name__}: {e}"
    attempt["duration_ms"] = int((time.time() - started) * 1000)
    return ok
