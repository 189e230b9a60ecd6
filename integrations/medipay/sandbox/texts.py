"""What the sandbox says to patients: the SMS texts and the Checkout page's words.

The msgids are English and live in the sandbox's own catalogs (i18n.py), so
the SMS and the page read in Norwegian bokmål, Swedish or English. SMS go out in
the claim's ``language`` (bokmål when the claim names none, as MediPay's always
did); the page follows the same language unless the patient picks another.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .i18n import format_money, get_translator

SMS_LANGUAGE = "nb"


def _noop(message: str) -> str:
    return message


# Marked for extraction with N_ (read by the catalogue test); translated at use.
N_ = _noop

SMS_TEXTS = {
    "checkout_link": N_("MediPay: you have a bill of {amount} for {description}. Choose card, Vipps "
                        "or invoice by {deadline}: {url}"),
    "reminder": N_("MediPay reminder: choose how to pay {amount} for {description} by {deadline}, "
                   "or an invoice is sent: {url}"),
    "invoice": N_("MediPay: an invoice of {amount} for {description} has been sent to you. "
                  "Due date {due_date}."),
    "invoice_approved": N_("MediPay: your invoice of {amount} for {description} is approved and "
                           "is on its way to you."),
    "receipt": N_("MediPay: thank you, we have received {amount} for {description}."),
}

# The names of the payment methods as the page and SMS show them.
METHOD_NAMES = {"card": N_("Card"), "vipps": N_("Vipps"), "invoice": N_("Invoice")}


@lru_cache(maxsize=4096)
def _money(amount: int, lang: str) -> str:
    return format_money(amount, lang)  # Babel is slow, and bills repeat their amounts


def sms_text(kind: str, *, amount: int, lang: str = SMS_LANGUAGE, **values: Any) -> str:
    t = get_translator(lang)
    fields = {"amount": _money(amount, lang), "description": "", "deadline": "",
              "url": "", "due_date": ""}
    fields.update({k: str(v) for k, v in values.items() if k in fields})
    return t.gettext(SMS_TEXTS[kind]).format(**fields)
