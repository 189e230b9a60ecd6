"""Claims and their life, as the product's rules tell it (docs/rules.md, rules M2, M3, M4, M6, M7 and M8).

    export ──▶ sent ──(card / Vipps in Checkout)──────────────────────▶ paid
      │         ├──(invoice in Checkout: full credit check, ≤ NOK 50,000)─▶ paid | rejected
      │         ├──(8 h before the deadline: reminder SMS, state unchanged)
      │         └──(no choice in 48 h: internal assessment, ≤ NOK 3,000)──▶ invoice_sent | rejected
      ├──(mode invoice: internal assessment at once)──────────────────▶ invoice_sent | rejected
      └──(total above NOK 50,000)─────────────────────────────────────▶ rejected (over_limit)
    invoice_sent ──(the patient pays)──────────────────────────────────▶ invoice_paid

Every change bumps ``version``, stamps ``updated_at`` and emits one callback.
Changes happen inside a store transaction that re-reads the claim first, so a
choice racing the deadline, or two processes ticking the same file, decide
once. Times are the sandbox clock's (``store.now()``), which the control
surface can move.

The internal assessment checks, in order: an address to send the invoice to
(``missing_address``), the NOK 3,000 limit (``over_limit``), then the scripted
credit outcome (``credit_rejected``). Choosing invoice in Checkout needs no
address on the claim (MediPay looks the patient up in the credit check).
Credit outcomes are ``approve`` unless ``/_control/credit`` scripted a
``reject`` for that national identity number.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from integrations.medipay.protocol import format_time

from .context import Sandbox
from .errors import MediPayError, conflict, not_found, not_open
from .store import new_id
from .texts import SMS_LANGUAGE, sms_text
from .validation import fingerprint

METHODS = ("card", "vipps", "invoice")
OSLO = ZoneInfo("Europe/Oslo")


@lru_cache(maxsize=64)
def _iso(ts: float) -> str:
    # A claim stamps the same moment three or four times (created, updated, its SMS).
    return format_time(ts)


def _kr(minor: int) -> str:
    return f"NOK {minor // 100:,}.{minor % 100:02d}"


def view(claim: dict[str, Any]) -> dict[str, Any]:
    """The claim as the API shows it, for answering at once: the sandbox's ``__`` keys are all at
    the top, and the parts below are shared with the claim, not copied (``public`` copies)."""
    return {k: v for k, v in claim.items() if not k.startswith("__")}


def _next_due(claim: dict[str, Any]) -> float | None:
    if claim["state"] != "sent":
        return None
    return claim["__deadline"] if claim.get("reminder_sent_at") else claim["__reminder"]


def _save(sb: Sandbox, claim: dict[str, Any], now: float) -> None:
    sb.store.put("claim", claim["id"], claim, owner=claim["__owner"], due=_next_due(claim), changed=now)


def _change(sb: Sandbox, claim: dict[str, Any], now: float, event_type: str | None) -> None:
    claim["version"] += 1
    claim["updated_at"] = _iso(now)
    _save(sb, claim, now)
    if event_type:
        sb.callbacks.emit(event_type, claim, claim["__owner"], now)


def _sms(sb: Sandbox, claim: dict[str, Any], kind: str, now: float) -> dict[str, Any]:
    local = datetime.fromtimestamp(claim["__deadline"], UTC).astimezone(OSLO)
    due = datetime.fromtimestamp(now, UTC).astimezone(OSLO) + timedelta(days=sb.rules.invoice_due_days)
    text = sms_text(kind, amount=claim["total"], description=claim["description"],
                    lang=claim.get("language") or SMS_LANGUAGE,
                    url=claim.get("checkout_url") or "", deadline=local.strftime("%d.%m.%Y %H:%M"),
                    due_date=due.strftime("%d.%m.%Y"),
                    method=claim.get("choice") or "invoice")
    sms = {"id": new_id("sms_"), "claim_id": claim["id"], "to": claim["patient"]["mobile"],
           "kind": kind, "text": text, "sent_at": _iso(now)}
    sb.store.put("sms", sms["id"], sms, owner=claim["__owner"], changed=now)
    claim["sms"].append({k: v for k, v in sms.items() if k != "claim_id"})
    return sms


def _payment(claim: dict[str, Any], method: str, now: float) -> None:
    claim["payments"].append({
        "method": method, "amount": claim["amount"], "admin_fee": claim["admin_fee_amount"],
        "total": claim["total"], "currency": "NOK", "paid_at": _iso(now),
        "reference": new_id("pay_", 16),
    })


def _reject(claim: dict[str, Any], reason: str, message: str) -> None:
    claim["state"] = "rejected"
    claim["reason_code"] = reason
    claim["message"] = message


# credit -----------------------------------------------------------------
def set_credit(sb: Sandbox, national_id: str, outcome: str) -> None:
    sb.store.set_meta("credit:" + national_id, outcome)


def credit_approves(sb: Sandbox, national_id: str) -> bool:
    return sb.store.get_meta("credit:" + national_id, "approve") != "reject"


def _internal_assessment(sb: Sandbox, claim: dict[str, Any]) -> bool:
    """PayEx's own assessment before an invoice goes out; False: rejected with a reason."""
    limit = sb.rules.automatic_invoice_limit
    if not claim["patient"].get("address"):
        _reject(claim, "missing_address", "An invoice was due but the claim has no address for the patient")
    elif claim["total"] > limit:
        _reject(claim, "over_limit", f"The total {_kr(claim['total'])} is above the limit of "
                                     f"{_kr(limit)} for an invoice after PayEx's internal assessment")
    elif not credit_approves(sb, claim["patient"]["national_id"]):
        _reject(claim, "credit_rejected", "PayEx's internal credit assessment did not approve an invoice")
    else:
        return True
    return False


def _send_invoice(sb: Sandbox, claim: dict[str, Any], now: float) -> str:
    """No choice (or mode invoice): assess, then send the invoice or reject; the callback type."""
    if not _internal_assessment(sb, claim):
        return "claim.rejected"
    claim["state"] = "invoice_sent"
    due = datetime.fromtimestamp(now, UTC) + timedelta(days=sb.rules.invoice_due_days)
    claim["invoice"] = {"number": new_id("inv_", 12), "sent_at": _iso(now),
                        "due_date": due.date().isoformat(), "amount": claim["total"], "currency": "NOK",
                        "channel": "sms+letter"}
    _sms(sb, claim, "invoice", now)
    return "claim.invoice_sent"


# export -----------------------------------------------------------------
def export(sb: Sandbox, owner: str, claim_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """PUT /v1/claims/{id}: create the claim once; the same body again answers it as it is now."""
    print_ = fingerprint(body)
    with sb.store.transaction():
        existing = sb.store.get("claim", claim_id)
        if existing is not None:
            if existing["__owner"] != owner or existing["__fingerprint"] != print_:
                raise conflict(claim_id)
            return 200, existing
        now = sb.store.now()
        fee = sb.rules.admin_fee_amount if body["admin_fee"] else 0
        token = secrets.token_urlsafe(18)
        deadline = now + sb.rules.choice_window_s
        reminder = deadline - sb.rules.reminder_before_s
        claim: dict[str, Any] = {
            "id": claim_id, "state": "sent", "reason_code": None, "message": None, "mode": body["mode"],
            "patient": body["patient"], "amount": body["amount"], "admin_fee": body["admin_fee"],
            "admin_fee_amount": fee, "total": body["amount"] + fee, "currency": "NOK",
            "description": body["description"], "lines": body["lines"],
            "language": body.get("language"),
            "checkout_url": None, "created_at": _iso(now), "updated_at": _iso(now),
            "deadline_at": None, "reminder_at": None, "reminder_sent_at": None, "choice": None,
            "invoice": None, "version": 1, "payments": [], "sms": [],
            "__owner": owner, "__fingerprint": print_, "__token": token,
            "__deadline": deadline, "__reminder": reminder,
        }
        event: str | None = None
        if claim["total"] > sb.rules.checkout_invoice_limit:
            _reject(claim, "over_limit", f"The total {_kr(claim['total'])} is above the agreed maximum of "
                                         f"{_kr(sb.rules.checkout_invoice_limit)}")
            event = "claim.rejected"
        elif body["mode"] == "invoice":
            event = _send_invoice(sb, claim, now)
        else:
            claim["checkout_url"] = (f"{sb.public_url}/checkout/{quote(claim_id, safe='')}"
                                     f"?t={quote(token, safe='')}")
            claim["deadline_at"] = _iso(deadline)
            claim["reminder_at"] = _iso(reminder)
            _sms(sb, claim, "checkout_link", now)
        _save(sb, claim, now)
        if event:
            sb.callbacks.emit(event, claim, owner, now)
    return 201, claim


def get(sb: Sandbox, claim_id: str, owner: str | None = None) -> dict[str, Any]:
    claim = sb.store.get("claim", claim_id)
    if claim is None or (owner is not None and claim["__owner"] != owner):
        raise not_found(claim_id)
    return claim


def token_ok(claim: dict[str, Any], token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(claim["__token"].encode(), str(token).encode())


# the patient ------------------------------------------------------------
def choose(sb: Sandbox, claim_id: str, method: str) -> dict[str, Any]:
    """The patient's choice in Checkout. Timers that fell due first go first."""
    if method not in METHODS:
        raise MediPayError(400, "bad_request", "method must be card, vipps or invoice")
    fire_due(sb)
    with sb.store.transaction():
        claim = get(sb, claim_id)
        if claim["state"] != "sent":
            raise not_open(claim_id, claim["state"])
        now = sb.store.now()
        claim["choice"] = method
        if method in ("card", "vipps"):
            claim["state"] = "paid"
            _payment(claim, method, now)
            _sms(sb, claim, "receipt", now)
            event = "claim.paid"
        elif claim["total"] > sb.rules.checkout_invoice_limit:
            _reject(claim, "over_limit", f"The total {_kr(claim['total'])} is above the limit of "
                                         f"{_kr(sb.rules.checkout_invoice_limit)} for an invoice")
            event = "claim.rejected"
        elif not credit_approves(sb, claim["patient"]["national_id"]):
            _reject(claim, "credit_rejected", "The credit check did not approve an invoice for this patient")
            event = "claim.rejected"
        else:
            # Approved: MediPay takes the claim over, so for the clinic it is settled.
            claim["state"] = "paid"
            _payment(claim, "invoice", now)
            _sms(sb, claim, "invoice_approved", now)
            event = "claim.paid"
        _change(sb, claim, now, event)
    return claim


def pay_invoice(sb: Sandbox, claim_id: str) -> dict[str, Any]:
    with sb.store.transaction():
        claim = get(sb, claim_id)
        if claim["state"] != "invoice_sent":
            raise not_open(claim_id, claim["state"])
        now = sb.store.now()
        claim["state"] = "invoice_paid"
        _payment(claim, "invoice", now)
        _change(sb, claim, now, "claim.invoice_paid")
    return claim


# time -------------------------------------------------------------------
def fire_due(sb: Sandbox, batch: int = 500) -> list[dict[str, str]]:
    """Send the reminders and invoices that fell due; each exactly once. What fired, in order."""
    fired: list[dict[str, str]] = []
    while True:
        now = sb.store.now()
        rows = sb.store.due("claim", now, batch)
        if not rows:
            return fired
        before = len(fired)
        for row in rows:
            fired.extend(_fire_one(sb, row["id"]))
        if len(fired) == before:  # rows another process is handling right now: next tick
            return fired


def _fire_one(sb: Sandbox, claim_id: str) -> list[dict[str, str]]:
    fired = []
    with sb.store.transaction():
        claim = sb.store.get("claim", claim_id)  # re-read: another process may have fired it
        now = sb.store.now()
        while claim is not None and claim["state"] == "sent" and (_next_due(claim) or now + 1) <= now:
            if not claim.get("reminder_sent_at"):
                _sms(sb, claim, "reminder", now)
                claim["reminder_sent_at"] = _iso(now)
                _change(sb, claim, now, "claim.reminder_sent")
                fired.append({"claim_id": claim_id, "type": "claim.reminder_sent"})
            else:
                event = _send_invoice(sb, claim, now)
                _change(sb, claim, now, event)
                fired.append({"claim_id": claim_id, "type": event})
    return fired


def list_changed(sb: Sandbox, owner: str, since: float, cursor: int, limit: int
                 ) -> tuple[list[dict[str, Any]], int | None]:
    rows = sb.store.changed_since("claim", owner, since, cursor, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = rows[-1][0] if more and rows else None
    return [view(c) for _, c in rows], next_cursor
