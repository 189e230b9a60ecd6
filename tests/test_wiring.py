"""The services are opened once and closed once, also when start-up fails half-way."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from app.collection.export import MediPayExporter
from app.db import Database
from app.factory import create_app
from integrations.medipay.client import MediPayHTTPClient
from integrations.stripe.client import StripeSDKGateway
from tests.conftest import make_settings


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every close of the resources the app opens itself."""
    counts: Counter[str] = Counter()
    for name, cls, method in (("database", Database, "dispose"), ("stripe", StripeSDKGateway, "close"),
                              ("medipay", MediPayHTTPClient, "close")):
        real = getattr(cls, method)

        async def counting(self: object, _real=real, _name=name) -> None:
            counts[_name] += 1
            await _real(self)

        monkeypatch.setattr(cls, method, counting)
    return counts


async def test_each_resource_is_closed_once_on_shutdown(tmp_path: Path, closed: Counter[str]) -> None:
    runner = web.AppRunner(create_app(make_settings(tmp_path), run_jobs=False))
    await runner.setup()
    await runner.cleanup()
    assert closed == {"database": 1, "stripe": 1, "medipay": 1}


async def test_start_up_failing_half_way_closes_what_was_opened(
    tmp_path: Path, closed: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: MediPayExporter, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the exporter could not start")

    # The exporter is made after the database and both gateways are open.
    monkeypatch.setattr(MediPayExporter, "__init__", refuse)
    runner = web.AppRunner(create_app(make_settings(tmp_path), run_jobs=False))
    with pytest.raises(RuntimeError, match="could not start"):
        await runner.setup()
    await runner.cleanup()
    assert closed == {"database": 1, "stripe": 1, "medipay": 1}


async def test_gateways_handed_in_are_left_to_their_owner(tmp_path: Path, closed: Counter[str]) -> None:
    medipay = MediPayHTTPClient("http://127.0.0.1:9")
    runner = web.AppRunner(create_app(make_settings(tmp_path), run_jobs=False, medipay=medipay))
    await runner.setup()
    await runner.cleanup()
    assert closed == {"database": 1, "stripe": 1}
    await medipay.close()
