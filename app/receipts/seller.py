"""The seller on a clinic's receipts: its legal name and business registration number.

The number is checked the way its country writes it (Norway's
organisasjonsnummer and Australia's ABN by their check digits) and stored
compact; receipts print it as the country formats it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.au import abn
from stdnum.exceptions import ValidationError
from stdnum.no import orgnr

from app.clock import Clock
from app.db import Database
from app.errors import Invalid, NotFound
from app.models import Clinic
from app.receipts.numbering import clinic_country

_OTHER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .\-/]{0,31}")
_CHECKED = {"NO": (orgnr, "Enter a valid organisation number: nine digits."),
            "AU": (abn, "Enter a valid ABN: eleven digits.")}


@dataclass(frozen=True)
class Seller:
    legal_name: str
    registration_number: str
    country: str | None


def display_number(number: str | None, country: str | None) -> str | None:
    """``923609016`` → ``923 609 016`` (Norway), ``51824753556`` → ``51 824 753 556`` (ABN)."""
    checked = _CHECKED.get(country or "")
    if not number or checked is None:
        return number
    try:
        return str(checked[0].format(number))
    except ValidationError:
        return number


def check_number(text: str, country: str | None) -> str | None:
    """The number to store (compact), or None when left empty; ``Invalid`` when it is not one."""
    text = text.strip()
    if not text:
        return None
    checked = _CHECKED.get(country or "")
    if checked is not None:
        module, message = checked
        try:
            return str(module.validate(text))
        except ValidationError:
            raise Invalid("invalid_registration_number", message, field="registration_number") from None
    if not _OTHER.fullmatch(text):
        raise Invalid("invalid_registration_number", "Enter the business registration number as it is written.",
                      field="registration_number")
    return text


class Sellers:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def get(self, clinic_id: str) -> Seller:
        async with self.db.read() as s:
            clinic = await s.get(Clinic, clinic_id)
        if clinic is None:
            raise NotFound("clinic_not_found", "There is no such clinic.")
        country = clinic_country(clinic)
        return Seller(clinic.legal_name or "", display_number(clinic.registration_number, country) or "", country)

    async def set(self, clinic_id: str, *, legal_name: str, registration_number: str) -> Seller:
        name = " ".join(legal_name.split())
        if len(name) > 200:
            raise Invalid("invalid_legal_name", "The legal name can be at most 200 characters.", field="legal_name")
        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id, with_for_update=True)
            if clinic is None:
                raise NotFound("clinic_not_found", "There is no such clinic.")
            country = clinic_country(clinic)
            clinic.legal_name = name or None
            clinic.registration_number = check_number(registration_number, country)
        return Seller(name, display_number(clinic.registration_number, country) or "", country)
