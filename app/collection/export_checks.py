"""The checks a bill card must pass before it is handed to MediPay.

MediPay sends the patient an SMS, so it needs a valid fødselsnummer or
D-number and a mobile number; an invoice also needs a postal address, and
since a patient who makes no choice in Checkout is invoiced after 48 hours,
the address is asked for before every export. A card
failing a check is not sent: it goes to *not exported* with the reason
(``reason_code`` is one of MediPay's own ``invalid_patient`` reasons) and is
tried again daily until it passes (docs/rules.md, rules M5 and M9).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from stdnum.no import fodselsnummer

from app.models import BillCard

MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


@dataclass(frozen=True)
class Failure:
    reason_code: str
    message: str


def check(card: BillCard) -> Failure | None:
    """The first reason ``card`` (an object, or a row of its columns) cannot be exported, or None when it can."""
    if not card.national_id:
        return Failure("missing_national_id", "The patient has no national identity number (fødselsnummer).")
    if not fodselsnummer.is_valid(card.national_id):
        return Failure("invalid_national_id", "The national identity number is not a valid fødselsnummer or D-number.")
    if not card.mobile:
        return Failure("missing_mobile", "The patient has no mobile number for the SMS.")
    try:
        number = phonenumbers.parse(card.mobile, "NO")
    except phonenumbers.NumberParseException:
        number = None
    # number_type answers UNKNOWN for an invalid number, so a mobile type is a valid number too
    # (is_valid_number would run the same pattern matching a second time).
    if number is None or phonenumbers.number_type(number) not in MOBILE_TYPES:
        return Failure("invalid_mobile", "The patient's phone number is not a mobile number.")
    # Asked of every export, not only of an invoice: a patient who makes no
    # choice in Checkout gets an invoice after 48 hours, which needs it.
    address = card.address or {}
    if not all(str(address.get(key) or "").strip() for key in ("line1", "postal_code", "city")):
        return Failure("missing_address", "An invoice needs the patient's address (street, postal code, city).")
    return None
