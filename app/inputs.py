"""Every REST body and Socket.IO payload the service accepts, declared once.

The edges (``app/web/*_api.py``, ``app/realtime/namespace.py``) parse with
these before a service sees anything; ``app/web/openapi.py`` builds its request
bodies from the same declarations, and a test holds the two together. The
services still check what needs the database or a registry (a clinic's
currency, a fødselsnummer's check digits, a phone number).
"""

from __future__ import annotations

from app.i18n import SUPPORTED as LANGUAGES
from app.schema import Flag, ListOf, ListOrWord, Schema, Text, Whole
from app.validation import MAX_AMOUNT

MAX_PATIENTS = 20
MAX_LINES = 100
ID = Text(max_len=100)
# Hosts' own ids (clinician, patient) may be numbers in their systems; kept as text.
HOST_ID = Text(max_len=200, numbers=True)

AMOUNT = Whole(minimum=1, maximum=MAX_AMOUNT, code="invalid_amount",
               message="Amount must be a whole number of minor units greater than zero.",
               description="minor units")
SHARE = Whole(minimum=0, maximum=MAX_AMOUNT, code="invalid_amount", description="minor units")

ADDRESS = Schema(
    fields={
        "line1": Text(), "line2": Text(), "postal_code": Text(max_len=20), "city": Text(),
        "country": Text(max_len=2, pattern="[A-Za-z]{2}", description="ISO 3166 two-letter code"),
    },
    code="invalid_address",
)
_PATIENT_FIELDS = {
    "name": Text(),
    "email": Text(max_len=254, code="invalid_email"),
    "national_id": Text(max_len=11, code="invalid_national_id",
                        description="Norwegian fødselsnummer or D-number, 11 digits"),
    "mobile": Text(max_len=32, code="invalid_mobile", description="E.164, e.g. +4791234567"),
    "address": ADDRESS,
}
# A payment policy (app/payments/policies.py): in the call as always, paid before joining, or a card
# hold, or a card on file; ``amount`` and ``description`` are for the gated kinds only (the service checks
# which): for a card on file, what the clinic expects to charge.
POLICY_KINDS = ("in_call", "before_join", "hold", "card_on_file")
POLICY_AMOUNT = Whole(minimum=1, maximum=MAX_AMOUNT, description="minor units")
PAYMENT_POLICY = Schema(
    fields={
        "kind": Text(max_len=16, choices=POLICY_KINDS,
                     description="in_call (asked for in the call), before_join (paid in the waiting room), "
                                 "hold (a card authorised in the waiting room, captured after the call) or "
                                 "card_on_file (a card saved in the waiting room, charged after the call)"),
        "amount": POLICY_AMOUNT,
        "description": Text(description="what the patient pays for; shown in the waiting room"),
        "no_show_fee": POLICY_AMOUNT,
    },
    required=("kind",),
)
PATIENT = Schema(fields={"id": HOST_ID, **_PATIENT_FIELDS}, required=("name",))
# A patient of a new consult: with their own payment policy, if the host sets one.
CONSULT_PATIENT = Schema(fields={**PATIENT.fields, "payment_policy": PAYMENT_POLICY}, required=("name",))
# A change to a bill card's patient: the id stays, ``null`` clears a detail.
PATIENT_CHANGE = Schema(fields=_PATIENT_FIELDS, clearable=("email", "national_id", "mobile", "address"))

# POST /api/v1/consults
CONSULT = Schema(
    fields={
        "clinic_id": ID,
        "external_id": Text(),
        "clinician": Schema(fields={"id": HOST_ID, "name": Text()}, required=("id", "name")),
        "patients": ListOf(items=CONSULT_PATIENT, min_items=1, max_items=MAX_PATIENTS, code="too_many_patients"),
        "currency": Text(max_len=3, code="invalid_currency",
                         description="one of the clinic's currencies; the clinic's by default"),
        "payment_policy": PAYMENT_POLICY,
        "language": Text(max_len=8, choices=LANGUAGES, code="invalid_language",
                         description="bokmål by default; what the service says for the consult, and a panel's "
                                     "language when its browser names none (panels follow the browser and the "
                                     "patient's own choice)"),
    },
    required=("clinic_id", "clinician", "patients"),
)

# POST /api/v1/payment-requests/{id}/refunds (no body: all that remains)
REFUND = Schema(fields={"amount": Whole(minimum=1, maximum=MAX_AMOUNT, code="invalid_amount",
                                        message="Enter a refund amount greater than zero.",
                                        description="minor units; omit to refund all that remains")})

LINE = Schema(
    fields={"code": Text(max_len=40), "description": Text(), "patient_amount": SHARE, "refund_amount": SHARE},
    required=("code", "description", "patient_amount"),
)
LINES = ListOf(items=LINE, min_items=1, max_items=MAX_LINES)

# POST /api/v1/bill-cards
BILL_CARD = Schema(
    fields={"clinic_id": ID, "book_id": ID, "patient": PATIENT, "lines": LINES, "admin_fee": Flag()},
    required=("clinic_id", "patient", "lines"),
)
# PATCH /api/v1/bill-cards/{id}
BILL_CARD_CHANGE = Schema(
    fields={"patient_share": SHARE, "refund_share": SHARE, "lines": LINES, "patient": PATIENT_CHANGE},
)

# Socket.IO, in the call.
PAYMENT_REQUEST = Schema(
    fields={
        "amount": AMOUNT,
        "currency": Text(max_len=3, code="currency_mismatch", message="Currency does not match the consultation."),
        # Required, but the panel's own message says so (the service checks it).
        "description": Text(),
        "patient_id": Text(max_len=200, numbers=True, code="unknown_patient", message="Unknown patient."),
        # A group consult: one request per patient named, or "all" of them (not with ``patient_id``).
        "patient_ids": ListOrWord(items=HOST_ID, word="all", min_items=1, max_items=MAX_PATIENTS,
                                  code="invalid_field"),
        "idempotency_key": ID,
        # Required (true) above the clinic's confirmation threshold; see app/payments/amount_limits.py.
        "confirmed": Flag(),
    },
)
REQUEST_REF = Schema(fields={"request_id": ID}, required=("request_id",))
# patient:present: the patient's panel, connected, saw its gate open (docs/rules.md, rule H4); nothing to say.
PRESENT = Schema(fields={})
# payment:vipps: the patient pays a request with Vipps. ``flow`` is the panel's choice (a phone browser
# sends NATIVE_REDIRECT or WEB_REDIRECT); without one, a push to ``phone`` (else the number the host
# gave for the patient) or, with no number known, a QR code.
VIPPS_FLOWS = ("PUSH_MESSAGE", "QR", "WEB_REDIRECT", "NATIVE_REDIRECT")
PAYMENT_VIPPS = Schema(
    fields={
        "request_id": ID,
        "flow": Text(max_len=16, choices=VIPPS_FLOWS, code="invalid_flow", description="Vipps' userFlow"),
        "phone": Text(max_len=32, code="invalid_phone", description="the patient's mobile, e.g. +4791234567"),
    },
    required=("request_id",),
)
PANEL_REFUND = Schema(
    fields={"request_id": ID, "amount": REFUND.fields["amount"], "idempotency_key": Text(max_len=255)},
    required=("request_id",),
)
BILL_CARD_PREVIEW = Schema(fields={"request_id": ID, "patient_id": HOST_ID})
# ``expect_total``: the total the clinician confirmed (from ``bill_card:preview``); sent only if it still holds.
BILL_CARD_SEND = Schema(fields={"request_id": ID, "patient_id": HOST_ID, "expect_total": SHARE})

# Card holds (docs/rules.md, rules H2 and H3): capture up to the hold, or release it.
# POST /api/v1/payment-requests/{id}/capture; without ``description`` the hold's own.
CAPTURE = Schema(
    fields={"amount": Whole(minimum=1, maximum=MAX_AMOUNT, code="invalid_amount",
                            message="Enter an amount greater than zero.",
                            description="minor units; at most the hold's amount"),
            "description": Text(max_len=200)},
    required=("amount",),
)
# payment:capture and payment:release, in the call.
PANEL_CAPTURE = Schema(
    fields={"request_id": ID, **CAPTURE.fields, "idempotency_key": ID},
    required=("request_id", "amount"),
)
