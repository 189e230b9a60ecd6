"""The OpenAPI 3 description served at /api/v1/openapi.json, generated from declarations.

What can be derived is, so the document cannot drift from the service:

- request bodies are the schemas the handlers parse with (``app/inputs.py``):
  exactly these fields (``additionalProperties: false``), types and bounds;
- path parameters are the path's ``{placeholders}``;
- error responses follow from what an operation takes: every call needs the
  API key (401); a thing named in the path may belong to another organisation
  (403) or not exist (404); a body may be malformed (400) or wrong (422), and
  so may query parameters (422); an operation adds only the codes its service
  has besides (``errors``); and any call may be refused with 503 ``busy``
  and ``Retry-After`` while the process is past its load bound;
- status and type enums are the code's own tuples.

The response shapes and the operations' words are declared below, one line
each where possible. ``tests/web/test_openapi.py`` holds the operations to the
app's route table and the query parameters to what the handlers accept.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from app import inputs
from app.backoffice.hold_lines import COLLECTED_BY
from app.backoffice.hold_lines import LINES as HOLD_LINE_KINDS
from app.backoffice.report_queries import BASIS_TYPES, MAX_LIMIT, MAX_PRICE_PER_CARD, PAYMENT_TYPES
from app.billing.gates import GateStatus
from app.billing.statuses import REQUEST_STATUSES, STATUSES, CheckoutProblem, Onward
from app.inputs import POLICY_KINDS, VIPPS_FLOWS
from app.payments.provider import METHODS
from app.payments.refunds import SOURCES as REFUND_SOURCES
from app.schema import Schema

Json = dict[str, Any]

# -- the common shapes ------------------------------------------------------------------------------

STR: Json = {"type": "string"}
INT: Json = {"type": "integer"}
BOOL: Json = {"type": "boolean"}
OBJ: Json = {"type": "object"}
MINOR: Json = {"type": "integer", "description": "minor units"}
TIME: Json = {"type": "string", "format": "date-time"}
REFUND_STATUSES = ("pending", "succeeded", "failed")
CONSULT_STATUSES = ("active", "ended")


def _null(schema: Json, **extra: Any) -> Json:
    return {**schema, "type": [schema["type"], "null"], **extra}


def _obj(**properties: Json) -> Json:
    return {"type": "object", "properties": properties}


def _each(schema: Json, *names: str) -> dict[str, Json]:
    return dict.fromkeys(names, schema)


def _enum(values: tuple[str, ...]) -> Json:
    return {"type": "string", "enum": list(values)}


def _array(items: Json) -> Json:
    return {"type": "array", "items": items}


_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {**_obj(**_each(STR, "code", "message", "field"), retry_after=INT),
                             "required": ["code", "message"]}},
}
# A receipt or credit note: its short number (CP-2026-000123) and its absolute link (no token needed).
_DOCUMENT = {
    **_obj(number={**STR, "pattern": r"^CP-\d{4}-\d{6,}$"}, url={**STR, "format": "uri"}),
    "type": ["object", "null"],
    "description": "null until issued; the url opens without a session for at least five years (?format=pdf: PDF)",
}
_REQUEST = _obj(
    **_each(STR, "id", "consult_id", "patient_id"), amount=MINOR, currency=STR, description=STR,
    status=_enum(REQUEST_STATUSES), bill_card_id=STR, created_at=TIME, paid_at=_null(TIME), refunded_amount=INT,
    problem={**_obj(code=_enum(tuple(CheckoutProblem)), detail=_null(STR), at=TIME), "type": ["object", "null"]},
    onward={"type": ["string", "null"], "enum": [*Onward, None]},
    stripe=_obj(**_each(_null(STR), "checkout_session_id", "payment_intent_id")), receipt=_DOCUMENT,
    method={**_enum(METHODS), "description": "how the patient pays: card (Stripe Checkout) or vipps"},
    vipps={**_obj(reference=STR, flow=_enum(VIPPS_FLOWS), state=_null(STR), psp_reference=_null(STR)),
           "type": ["object", "null"],
           "description": "the Vipps MobilePay payment of the latest attempt; null if never paid with Vipps"},
    kind={**_enum(("in_call", "before_join", "hold", "card_on_file", "no_show")),
          "description": "in_call: asked for in the call; before_join / hold / card_on_file: a waiting room's "
                         "gate; a hold is authorised, then captured or released; a card on file is saved, then "
                         "charged off-session"},
    hold_amount=_null(INT, description="a hold's authorised amount, minor units (amount: what is captured)"),
    authorised_at=_null(TIME), capture_before=_null(TIME, description="Stripe's deadline for capturing a hold"),
)
_REFUND = _obj(
    id=STR, payment_request_id=STR, amount=MINOR, currency=STR, status=_enum(REFUND_STATUSES),
    source=_enum(REFUND_SOURCES), stripe_refund_id=_null(STR), created_at=TIME, credit_note=_DOCUMENT,
)
_PARTICIPANT = _obj(**_each(STR, "id", "token", "join_url"))
# A patient who never joined, with a no-show fee, once the consult is over (docs/rules.md, rule H4).
_NO_SHOW = {
    **_obj(fee=MINOR, request_id=_null(STR), how=_enum(("hold", "card_on_file", "bill_card", "none")), at=TIME),
    "type": ["object", "null"],
    "description": "hold: captured from the patient's card hold; card_on_file: charged to their saved card; "
                   "bill_card: owed on their bill card (a saved card declined, or a MediPay book); "
                   "none: nothing collected",
}
# A patient's payment policy as resolved (theirs, the consult's, else the clinic's default), and its gate.
_POLICY = _obj(kind=_enum(POLICY_KINDS), amount=_null(MINOR), description=_null(STR), no_show_fee=_null(MINOR))
_GATE = {
    **_obj(kind=_enum(("before_join", "hold", "card_on_file")), status=_enum(tuple(GateStatus)), request_id=STR,
           amount={**MINOR, "description": "minor units: paid before joining, the most a hold captures, or "
                                           "what the clinic expects to charge a card on file"},
           currency=STR, description={**STR, "description": "what the patient pays for, as the waiting room says"},
           paid_at=_null(TIME, description="before_join"),
           authorised_at=_null(TIME, description="hold"), saved_at=_null(TIME, description="card_on_file")),
    "type": ["object", "null"],
    "description": "null unless the patient's policy is before_join, hold or card_on_file; the status follows "
                   "the gate's request",
}
_JOINED_AT = _null(TIME, description="when the patient got into the call: their panel connected with their "
                                     "gate open (or no gate), or the host admitted them; null while waiting")
_PATIENT = _obj(**_each(STR, "id", "token", "join_url"), name=STR, payment_policy=_POLICY, gate=_GATE,
                joined_at=_JOINED_AT, no_show=_NO_SHOW)
_CONSULT = _obj(
    id=STR, clinic_id=STR, status=_enum(CONSULT_STATUSES), expires_at=TIME, clinician=_PARTICIPANT,
    patients=_array(_PATIENT), payment_requests=_array(_REQUEST),
)
# Bill cards (the cash desk's *regningskort*), for host and accounting systems.
_BILL_CARD = _obj(
    id=STR, clinic_id=STR, consult_id=_null(STR), book_id=_null(STR), status=_enum(STATUSES),
    status_label={**STR, "description": "the cash desk's Norwegian label"}, settled=BOOL, currency=STR,
    patient_share=MINOR, refund_share=MINOR, admin_fee=BOOL, patient=OBJ, lines=_array(OBJ),
    payments=_array(_obj(method=STR, amount=INT, currency=STR, reference=STR, registered_at=TIME)),
    medipay=_obj(
        **_each(_null(STR), "state", "reason_code", "message"), exported_at=_null(TIME),
        exported_patient_share=_null(INT, description="minor units, as exported"),
        admin_fee={**INT, "description": "MediPay's admin fee on the claim, minor units"},
        next_retry_at=_null(TIME, description="when a not exported card is tried again (daily)"),
    ),
    created_at=TIME, updated_at=TIME,
)
_CARD_PAGE = _obj(data=_array(_BILL_CARD), has_more=BOOL, next_cursor=_null(STR))
# Reports (the cash desk's *Oppgjørsrapport* and MediPay earnings); see app/backoffice/reports.py.
_TOTALS = _obj(**_each(INT, "cards", "patient_share", "refund_share", "paid", "refunded", "admin_fees"), currency=STR)
# Card holds and no-show fees as lines of their own (app/backoffice/hold_lines.py, docs/rules.md rule R3).
_HOLD_LINE = _obj(
    line=_enum(HOLD_LINE_KINDS), at=TIME, request_id=_null(STR), consult_id=STR, card_id=_null(STR),
    clinic_id=STR, book_id=_null(STR), patient_name=STR, currency=STR, authorised=_null(INT), captured=INT,
    released=INT, no_show_fee=_null(INT), collected_by=_null(_enum(COLLECTED_BY)),
    amount={**INT, "description": "what the line adds to the takings: a capture, or a fee on the bill card"},
)
_HOLD_TOTALS = _obj(**_each(INT, "captured", "released", "no_show_fees", "no_show_fees_not_collected"),
                    currency=STR)
_SETTLEMENT = _obj(
    cards_count=INT, totals=_array(_TOTALS), by_payment_type=_array(OBJ), cards=_array(OBJ), has_more=BOOL,
    next_offset=_null(INT), hold_lines=_array(_HOLD_LINE), hold_lines_count=INT, hold_totals=_array(_HOLD_TOTALS),
)
_EARNINGS = _obj(**_each(INT, "cards", "patient_share", "admin_fees", "total", "medipay_cost",
                         "medipay_cost_per_card", "medipay_cost_percent", "net"))

# -- parameters --------------------------------------------------------------------------------------


def _query(name: str, schema: Json, description: str) -> Json:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False, "schema": {**STR, "maxLength": 255},
    "description": "The same key for the same request refunds once, however often it is sent.",
}
_CARD_FILTERS = (
    _query("status", STR, "one status code, or several separated by commas"),
    _query("book_id", STR, "only cards in this book"),
    _query("clinic_id", STR, "only cards of this clinic"),
    _query("from", TIME, "created at or after (ISO 8601)"),
    _query("to", TIME, "created before (ISO 8601)"),
    _query("limit", {**INT, "minimum": 1, "maximum": 100}, "page size, 20 by default"),
    _query("starting_after", STR, "the last card id of the previous page"),
    _query("cursor", STR, "next_cursor of the previous page"),
)
_UNIT = _query("unit", {**STR, "maxLength": 100}, "a clinic id")
_BOOK = _query("book_id", {**STR, "maxLength": 100}, "a book id")
_PERIOD = (
    _query("from", {**STR, "maxLength": 40},
           "ISO 8601 date (a whole day in the time zone of the unit's clinic, else of the organisation's "
           "first clinic) or time (UTC when no offset), inclusive"),
    _query("to", {**STR, "maxLength": 40}, "ISO 8601 date (that whole day included) or time (exclusive)"),
)
_FORMAT = _query("format", _enum(("json", "csv")), "csv: text/csv with a header row")
_SETTLEMENT_FILTERS = (
    _query("exported", _enum(("true", "false")), "exported to MediPay or not"), _UNIT, _BOOK,
    _query("basis_type", _enum(BASIS_TYPES), "where the card came from"),
    _query("payment_type", _enum(PAYMENT_TYPES), "how it was paid"),
    *_PERIOD,
    _query("limit", {**INT, "minimum": 1, "maximum": MAX_LIMIT}, "cards listed, 100 by default"),
    _query("offset", {**INT, "minimum": 0}, "cards to skip (next_offset)"),
    _FORMAT,
)
_EARNINGS_FILTERS = (
    *_PERIOD,
    _query("price_per_card", {**INT, "minimum": 0, "maximum": MAX_PRICE_PER_CARD},
           "MediPay's price per card, minor units"),
    _query("price_percent", {**STR, "pattern": "^[0-9]{1,3}([.,][0-9]{1,2})?$"},
           "MediPay's price as percent of the total, e.g. 2.5"),
    _UNIT, _BOOK, _FORMAT,
)

# -- the operations ----------------------------------------------------------------------------------

# The schema each operation's handler parses its body with.
REQUEST_BODIES: dict[str, Schema] = {
    "createConsult": inputs.CONSULT,
    "refundPaymentRequest": inputs.REFUND,
    "capturePaymentRequest": inputs.CAPTURE,
    "chargePaymentRequest": inputs.CAPTURE,
    "createBillCard": inputs.BILL_CARD,
    "changeBillCard": inputs.BILL_CARD_CHANGE,
}


@dataclass(frozen=True)
class Operation:
    """One route of the API as the document tells it; the rest is derived (see the module's docstring)."""

    method: str
    path: str
    operation_id: str
    status: int
    answer: Json
    errors: tuple[int, ...] = ()  # beyond those derived
    description: str | None = None
    query: tuple[Json, ...] = ()
    headers: tuple[Json, ...] = ()
    body_required: bool = True
    csv: bool = False  # also answers text/csv (?format=csv)

    def error_statuses(self) -> list[int]:
        codes = {401, 503, *self.errors}
        if "{" in self.path:
            codes |= {403, 404}
        if self.operation_id in REQUEST_BODIES:
            codes |= {400, 422}
        if self.query:
            codes.add(422)
        return sorted(codes)

    def document(self) -> Json:
        op: Json = {"operationId": self.operation_id}
        if self.description:
            op["description"] = self.description
        path_ids = [{"name": name, "in": "path", "required": True, "schema": STR}
                    for name in re.findall(r"\{(\w+)\}", self.path)]
        if parameters := [*path_ids, *self.headers, *self.query]:
            op["parameters"] = parameters
        if (body := REQUEST_BODIES.get(self.operation_id)) is not None:
            op["requestBody"] = {"required": self.body_required,
                                 "content": {"application/json": {"schema": body.json_schema()}}}
        content: Json = {"application/json": {"schema": self.answer}}
        if self.csv:
            content["text/csv"] = {"schema": STR}
        op["responses"] = {str(self.status): {"description": "ok", "content": content}} | {
            str(code): {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
            for code in self.error_statuses()
        }
        op["responses"]["503"]["headers"] = {"Retry-After": _RETRY_AFTER}
        return op


# A 503 with code "busy" (the process is past its load bound) says when to try again.
_RETRY_AFTER: Json = {"description": "whole seconds to wait before trying again (code busy)",
                      "schema": {"type": "integer", "minimum": 1}}

OPERATIONS: tuple[Operation, ...] = (
    # 409: a before_join or hold gate needs a Stripe account to go to (no_stripe_account).
    Operation("POST", "/api/v1/consults", "createConsult", 201, _CONSULT, errors=(403, 404, 409)),
    Operation("GET", "/api/v1/consults/{consult_id}", "getConsult", 200, _CONSULT),
    Operation("POST", "/api/v1/consults/{consult_id}/end", "endConsult", 200, _CONSULT),
    Operation(
        "POST", "/api/v1/consults/{consult_id}/patients/{patient_id}/admit", "admitPatient", 200, _PATIENT,
        errors=(409,),
        description=(
            "The host let the patient into the call: they have joined (joined_at), so no no-show fee is "
            "charged. Idempotent. 409 consult_ended once the consult is over; 409 gate_closed while the "
            "patient's gate is not open (before_join unpaid, hold not authorised)."
        ),
    ),
    Operation("GET", "/api/v1/payment-requests/{request_id}", "getPaymentRequest", 200, _REQUEST),
    Operation(
        "POST", "/api/v1/payment-requests/{request_id}/refunds", "refundPaymentRequest", 201, _REFUND,
        errors=(409, 503), headers=(_IDEMPOTENCY_KEY,), body_required=False,
        description="Refund a paid request in full (no amount) or in part, on the clinic's Stripe account.",
    ),
    Operation(
        "POST", "/api/v1/payment-requests/{request_id}/capture", "capturePaymentRequest", 200, _REQUEST,
        errors=(409, 503),
        description=(
            "Capture an authorised card hold (kind hold, status authorised), during or after the call: "
            "amount at most the hold (422 amount_above_hold) and at least Stripe's minimum; Stripe releases "
            "the rest. The request becomes paid with amount the captured amount. 409 not_capturable, "
            "capture_refused (Stripe's words; still authorised); 503 stripe_unavailable: send it again, "
            "the same capture is made once."
        ),
    ),
    Operation(
        "POST", "/api/v1/payment-requests/{request_id}/charge", "chargePaymentRequest", 200, _REQUEST,
        errors=(409, 503),
        description=(
            "Charge a saved card on file (kind card_on_file, status card_saved) off-session, during or after "
            "the call: amount at least Stripe's minimum and at most the clinic's maximum. The request becomes "
            "paid with amount the amount charged. 409 not_chargeable; charge_declined (the bank's reason in "
            "words; nothing charged, the amount owed on the bill card); 503 stripe_unavailable: send it again, "
            "the same charge is made once."
        ),
    ),
    Operation(
        "POST", "/api/v1/payment-requests/{request_id}/release", "releasePaymentRequest", 200, _REQUEST,
        errors=(409, 503),
        description=(
            "Release an authorised card hold without capturing: cancelled at Stripe, the request released, "
            "nothing charged. 409 not_releasable, capture_in_progress."
        ),
    ),
    Operation(
        "GET", "/api/v1/bill-cards", "listBillCards", 200, _CARD_PAGE, query=_CARD_FILTERS,
        description="The organisation's bill cards, newest first, a page at a time.",
    ),
    Operation(
        "POST", "/api/v1/bill-cards", "createBillCard", 201, _BILL_CARD, errors=(403, 404, 409),
        description="A bill card of service lines, in status open (waiting for export).",
    ),
    Operation("GET", "/api/v1/bill-cards/{card_id}", "getBillCard", 200, _BILL_CARD),
    Operation(
        "PATCH", "/api/v1/bill-cards/{card_id}", "changeBillCard", 200, _BILL_CARD, errors=(409,),
        description=(
            "Change the shares (an adjustment line carries the difference), replace the card's own lines, "
            "and/or correct the patient. An exported card's patient share is locked (409 "
            "patient_share_locked); its refund share may change. A paid card's shares cannot change."
        ),
    ),
    Operation(
        "POST", "/api/v1/bill-cards/{card_id}/send-to-payment", "sendBillCardToPayment", 200, _BILL_CARD,
        errors=(409,),
        description=(
            "Send til betaling: send one card to MediPay now instead of with the hourly transfer. "
            "The answer is the card after MediPay's answer (open_exported, not_exported with the "
            "reason, or manual_handling), or still open when MediPay is slow or down: the export is "
            "retried under the same claim id. A card from a call takes over the call's open requests. "
            "409: card_settled, already_exported, book_not_medipay, nothing_to_collect, checkout_open."
        ),
    ),
    Operation(
        "GET", "/api/v1/reports/settlement", "settlementReport", 200, _SETTLEMENT, query=_SETTLEMENT_FILTERS,
        csv=True,
        description=(
            "Which bill cards, how many, and their sums (minor units). exported=true: the cards that went "
            "to MediPay, the period on exported_at; otherwise the period is on created_at. basis_type: "
            "call (made by a payment request in a video call) or card (made at the cash desk or over "
            "this API). payment_type: cards with at least one payment of that method."
        ),
    ),
    Operation(
        "GET", "/api/v1/reports/medipay-earnings", "medipayEarningsReport", 200, _EARNINGS,
        query=_EARNINGS_FILTERS, csv=True,
        description=(
            "Cards exported in the period and settled through MediPay: patient share, admin fees, and "
            "MediPay's cost = cards × price_per_card + price_percent of the total (patient share + admin "
            "fees), the percentage rounded half up to a whole minor unit. NOK, minor units."
        ),
    ),
)


def _paths(operations: tuple[Operation, ...]) -> Json:
    paths: Json = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = operation.document()
    return paths


# A deep copy: the shapes above share their small parts, and no reader of the
# document should change one place by changing another.
SPEC: Json = copy.deepcopy({
    "openapi": "3.0.3",
    "info": {"title": "ConsultPay plugin API", "version": "1"},
    "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
    "security": [{"apiKey": []}],
    "paths": _paths(OPERATIONS),
})
