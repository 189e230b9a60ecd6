"""Every message a patient or clinician can see from the server is translated."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.i18n import get_translator

ROOT = Path(__file__).resolve().parents[2]
# Modules whose DomainError messages reach the panels (Socket.IO acks, connect refusals, pages).
USER_FACING = ["app/payments/requests.py", "app/payments/checkout.py", "app/payments/settlement.py",
               "app/consults/participant.py", "app/consults/tokens.py", "app/realtime/namespace.py",
               "app/consults/service.py", "app/payments/refunds.py", "app/connect/stripe_accounts.py",
               "app/connect/linking.py", "app/connect/vipps_merchants.py", "app/admin/vipps_settings.py",
               "app/admin/client_payments.py", "app/payments/minimums.py", "app/payments/amount_limits.py",
               # MediPay: why a card was not sent, shown in the cash desk and the clinician's panel.
               "app/collection/export_checks.py", "app/collection/export.py", "app/collection/send_now.py",
               "app/collection/fallback.py", "app/collection/handover.py", "app/payments/group_requests.py"]
ERRORS = {"BadInput", "Unauthenticated", "Forbidden", "NotFound", "Conflict", "Invalid", "RateLimited",
          "Unavailable", "_error", "Failure"}


def messages() -> set[str]:
    found: set[str] = set()
    for path in USER_FACING:
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ERRORS and len(node.args) >= 2:
                arg = node.args[1]
                # Sentences (capitalised, with a full stop) are for people; the rest is for developers.
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value[:1].isupper() \
                        and arg.value.endswith("."):
                    found.add(arg.value)
    return found


def test_there_are_messages_to_check() -> None:
    assert "This request has already been paid." in messages()


@pytest.mark.parametrize("lang", ["nb", "sv"])
def test_user_facing_messages_are_translated(lang: str) -> None:
    t = get_translator(lang)
    missing = sorted(m for m in messages() if t.gettext(m) == m)
    assert not missing, f"untranslated in {lang}: {missing}"
