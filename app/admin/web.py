"""Wiring for the admin pages: the session cookie and the route tables."""

from __future__ import annotations

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.admin import audit_page, clinics, dashboard, export_settings, signin, users, vipps_settings
from app.admin import cash_desk_pages as cash_desk
from app.admin import receipts_page as receipts
from app.admin import report_pages as reports
from app.config import Settings

COOKIE_NAME = "consultpay_admin"

# Every admin route table; create_app adds them all.
TABLES: tuple[web.RouteTableDef, ...] = (
    signin.routes,
    dashboard.routes,
    users.routes,
    clinics.routes,
    audit_page.routes,
    cash_desk.routes,
    reports.routes,
    export_settings.routes,
    receipts.routes,
    vipps_settings.routes,
)


def cookie_key(secret_key: str) -> bytes:
    """The cookie's Fernet key (32 raw bytes), derived from SECRET_KEY for this one purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"consultpay admin session cookie").derive(
        secret_key.encode("utf-8")
    )


def setup_sessions(app: web.Application, settings: Settings) -> None:
    storage = EncryptedCookieStorage(
        cookie_key(settings.secret_key),
        cookie_name=COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.public_url.startswith("https://"),
        max_age=None,  # a browser-session cookie; the server decides when the session ends
    )
    aiohttp_session.setup(app, storage)
