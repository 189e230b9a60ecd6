"""Issue 11, item 11 (headers and files): CSP with frame-ancestors on every HTML
response, HSTS over HTTPS only, databases and state files readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from aiohttp import web

from tests.security.support import serving, settings_for

HTML = {"Accept": "text/html"}


def _ancestors(csp: str | None) -> str | None:
    for part in (csp or "").split(";"):
        if part.strip().startswith("frame-ancestors"):
            return part.strip()
    return None


async def test_every_html_response_has_a_csp_with_frame_ancestors(tmp_path: Path) -> None:
    broken = web.RouteTableDef()

    @broken.get("/_test/broken-page")
    async def broken_page(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("a bug in a page")

    settings = settings_for(tmp_path, FRAME_ANCESTORS="https://host.example")
    async with serving(settings, extra_routes=broken) as (url, http):
        for method, path, status, ancestors in [
            ("GET", "/demo", 200, "https://host.example"),
            ("GET", "/no-such-page", 404, "https://host.example"),
            ("POST", "/demo", 405, "https://host.example"),
            ("GET", "/join/not-a-token", None, "https://host.example"),
            ("GET", "/_test/broken-page", 500, "https://host.example"),
            ("GET", "/_sandbox/medipay/", 200, "'self'"),
            ("GET", "/_sandbox/stripe/checkout/cs_test_missing", None, "'self'"),
            ("GET", "/_sandbox/stripe/connect/onboard/missing", 404, "'self'"),
        ]:
            async with http.request(method, url + path, headers=HTML, allow_redirects=False) as resp:
                if status is not None:
                    assert resp.status == status, (path, resp.status)
                csp = resp.headers.get("Content-Security-Policy")
                assert _ancestors(csp) == f"frame-ancestors {ancestors}", (path, csp)
                assert resp.headers.get("X-Content-Type-Options") == "nosniff"
        # A page that sets its own policy keeps it (the admin pages are never framed).
        async with http.get(url + "/admin/sign-in", headers=HTML) as resp:
            assert _ancestors(resp.headers.get("Content-Security-Policy")) == "frame-ancestors 'none'"


async def _hsts(url: str, http, headers: dict[str, str] | None = None) -> str | None:  # type: ignore[no-untyped-def]
    async with http.get(url + "/healthz", headers=headers or {}) as resp:
        return resp.headers.get("Strict-Transport-Security")


async def test_hsts_only_when_served_over_https(tmp_path: Path) -> None:
    https = {"X-Forwarded-Proto": "https"}
    async with serving(settings_for(tmp_path)) as (url, http):
        assert await _hsts(url, http) is None
        # Anyone may write X-Forwarded-Proto: without trusted proxies it is ignored.
        assert await _hsts(url, http, https) is None
    async with serving(settings_for(tmp_path, TRUSTED_PROXIES="127.0.0.1")) as (url, http):
        assert await _hsts(url, http) is None
        assert await _hsts(url, http, {"X-Forwarded-Proto": "http"}) is None
        assert (await _hsts(url, http, https) or "").startswith("max-age=")
    async with serving(settings_for(tmp_path, TRUSTED_PROXIES="10.0.0.0/8")) as (url, http):
        assert await _hsts(url, http, https) is None  # 127.0.0.1 is not one of them
    async with serving(settings_for(tmp_path, PUBLIC_URL="https://consultpay.example")) as (url, http):
        assert (await _hsts(url, http) or "").startswith("max-age=")


@pytest.fixture
def usual_umask():  # type: ignore[no-untyped-def]
    """The umask most systems start with, under which a new file is 0644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_databases_and_state_files_are_private(tmp_path: Path, usual_umask) -> None:  # type: ignore[no-untyped-def]
    # An existing file left world-readable by an earlier version is tightened too.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "medipay-sandbox.db").touch(mode=0o644)
    os.chmod(tmp_path / "var" / "medipay-sandbox.db", 0o644)
    settings = settings_for(tmp_path)
    async with serving(settings) as (url, http):
        # Writes, so that SQLite has made its -wal and -shm files.
        async with http.get(url + "/demo") as resp:
            assert resp.status == 200
        files = [tmp_path / "consultpay.db", *sorted((tmp_path / "var").iterdir())]
        names = {f.name for f in files}
        assert {"stripe-sandbox.db", "medipay-sandbox.db", "secret_key", "medipay_callback_secret",
                "consultpay.db"} <= names
        assert {"stripe-sandbox.db-wal", "medipay-sandbox.db-wal"} <= names
        wal = [tmp_path / "consultpay.db-wal", tmp_path / "consultpay.db-shm"]
        for path in files + [w for w in wal if w.exists()]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == 0o600, f"{path.name} is {oct(mode)}"
        assert any(w.exists() for w in wal)
