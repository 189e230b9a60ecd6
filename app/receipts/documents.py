"""Reading receipts and credit notes: by their link, per consult, per clinic; and what one says.

``document`` turns a stored receipt into the words and numbers a person reads,
in one language and in the clinic's time zone; the HTML page and the PDF both
print exactly that, so the two never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.no_show_view import NO_SHOW_DESCRIPTION
from app.i18n import format_money, get_translator
from app.i18n.zones import clinic_zone, format_instant
from app.models import Clinic, Consult, PaymentRequest, Receipt
from app.receipts.numbering import METHOD_CARD_HOLD
from app.receipts.seller import display_number

# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
RETENTION_YEARS = 5

# The label of the seller's registration number, by country.
_REGISTRATION_LABELS = {"NO": "Organisation number", "AU": "ABN"}
_METHOD_LABELS = {"card": "Card", "vipps": "Vipps", "card_hold": "Card hold captured",
                  "card_on_file": "Saved card charged"}


@dataclass(frozen=True)
class Document:
    """One receipt or credit note as a person reads it (every string already in ``lang``)."""

    lang: str
    kind: str
    title: str
    reference: str
    number_label: str
    issued_label: str
    issued: str
    issued_iso: str
    seller_name: str
    registration_label: str
    registration_number: str | None
    description: str
    amount: str
    currency: str
    method: str
    vat_note: str
    original_reference: str | None
    retention_note: str
    token: str
    # A captured card hold (rule H2): what was authorised on the card, and the rest released, not charged.
    hold_authorised: str | None = None
    hold_released: str | None = None
    # A no-show fee (rule H4): the consultation it is for, as the patient knows it (when, with whom).
    consult: str | None = None


def method_label(method: str) -> str:
    """The msgid naming how a document's amount was paid (a code not known here is shown as it is)."""
    return _METHOD_LABELS.get(method, method)


def service_text(receipt: Receipt, t: Any) -> str:
    """The service as the reader reads it: the no-show fee is ours to name, so it is translated (rule H4);
    a description the clinic wrote is theirs, shown as written."""
    return t.gettext(receipt.description) if receipt.description == NO_SHOW_DESCRIPTION else receipt.description


def valid_token(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token))


async def by_token(s: AsyncSession, token: str) -> Receipt | None:
    if not valid_token(token):
        return None
    return await s.scalar(select(Receipt).where(Receipt.token == token))


def registration_label(country: str | None) -> str:
    """The msgid naming a seller's registration number in its country."""
    return _REGISTRATION_LABELS.get(country or "", "Business registration number")


def _vat_note(country: str | None) -> str:
    if country == "NO":
        return "Health services are exempt from VAT (merverdiavgiftsloven § 3-2)."
    if country == "AU":
        return "Health services are GST-free."
    return "Health services are exempt from VAT."


def document(receipt: Receipt, clinic: Clinic | None, lang: str, original: str | None = None,
             request: PaymentRequest | None = None, consult: Consult | None = None) -> Document:
    """``request`` and ``consult``: the receipt's own, for what a card hold's or a no-show fee's receipt adds."""
    t = get_translator(lang)
    zone = clinic_zone(clinic)
    issued = format_datetime(receipt.issued_at, "d MMMM y, HH:mm", tzinfo=zone, locale=t.lang)
    credit = receipt.kind == "credit_note"
    # Read from the request, whose ``hold_amount`` never changes after the capture; the receipt's amount is
    # what was captured. A credit note corrects the amount alone, so it repeats neither.
    held = (None if credit or request is None or receipt.method != METHOD_CARD_HOLD or not request.hold_amount
            else request.hold_amount)
    when = None
    if not credit and consult is not None and receipt.description == NO_SHOW_DESCRIPTION:
        when = t.gettext("%(when)s, with %(clinician)s") % {
            "when": format_datetime(consult.created_at, "d MMMM y, HH:mm", tzinfo=zone, locale=t.lang),
            "clinician": consult.clinician_name}
    return Document(
        lang=t.lang,
        kind=receipt.kind,
        title=t.gettext("Credit note") if credit else t.gettext("Receipt"),
        reference=receipt.reference,
        number_label=t.gettext("Credit note number") if credit else t.gettext("Receipt number"),
        issued_label=t.gettext("Date"),
        issued=f"{issued} ({zone.key})",
        issued_iso=receipt.issued_at.isoformat(),
        seller_name=receipt.seller_name,
        registration_label=t.gettext(registration_label(receipt.seller_country)),
        registration_number=display_number(receipt.seller_registration_number, receipt.seller_country),
        description=service_text(receipt, t),
        amount=format_money(-receipt.amount if credit else receipt.amount, receipt.currency, t.lang),
        currency=receipt.currency,
        method=t.gettext(method_label(receipt.method)),
        vat_note=t.gettext(_vat_note(receipt.seller_country)),
        original_reference=original,
        retention_note=t.gettext("Keep this document. The clinic keeps a copy for %(years)s years.")
        % {"years": RETENTION_YEARS},
        token=receipt.token,
        hold_authorised=format_money(held, receipt.currency, t.lang) if held else None,
        hold_released=format_money(max(held - receipt.amount, 0), receipt.currency, t.lang) if held else None,
        consult=when,
    )


async def load_document(s: AsyncSession, token: str, lang: str | None) -> Document | None:
    """The document behind a link (in ``lang``, else the consult's language), or None for an unknown one."""
    receipt = await by_token(s, token)
    if receipt is None:
        return None
    clinic = await s.get(Clinic, receipt.clinic_id)
    original = None
    if receipt.original_receipt_id:
        first = await s.get(Receipt, receipt.original_receipt_id)
        original = first.reference if first is not None else None
    request = await s.get(PaymentRequest, receipt.payment_request_id)
    consult = await s.get(Consult, request.consult_id) if request is not None else None
    return document(receipt, clinic, lang or receipt.language, original, request, consult)


async def for_requests(s: AsyncSession, request_ids: list[str]) -> list[Receipt]:
    """The receipts and credit notes of these payment requests, in number order."""
    if not request_ids:
        return []
    rows = await s.scalars(
        select(Receipt).where(Receipt.payment_request_id.in_(request_ids)).order_by(Receipt.number)
    )
    return list(rows)


async def for_clinics(
    s: AsyncSession, clinic_ids: list[str], *, page: int, page_size: int
) -> list[Receipt]:
    """A page of the clinics' receipts and credit notes, newest number first."""
    if not clinic_ids:
        return []
    rows = await s.scalars(
        select(Receipt)
        .where(Receipt.clinic_id.in_(clinic_ids))
        .order_by(Receipt.issued_at.desc(), Receipt.number.desc())
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    )
    return list(rows)


def issued_local(receipt: Receipt, clinic: Clinic | None, lang: str) -> str:
    """The issue time in the clinic's zone, short, for lists."""
    return format_instant(receipt.issued_at, clinic_zone(clinic), lang)
