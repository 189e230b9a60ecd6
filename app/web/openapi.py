"""The OpenAPI 3 description served at /api/v1/openapi.json.

Responses are described here by hand; request bodies are generated from the
schemas the handlers parse with (``app/inputs.py``), so what the document
promises is what the service accepts: exactly these fields
(``additionalProperties: false``), these types and these bounds.
"""

from __future__ import annotations

from typing import Any

from app import inputs
from app.schema import Schema

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
        }
    },
}
_REQUEST = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "consult_id": {"type": "string"},
        "patient_id": {"type": "string"},
        "amount": {"type": "integer", "description": "minor units"},
        "currency": {"type": "string"},
        "description": {"type": "string"},
        "status": {
            "type": "string",
            "enum": [
                "requested",
                "checkout_open",
                "paid",
                "cancelled",
                "expired",
                "failed",
                "refunded",
                "partially_refunded",
            ],
        },
        "bill_card_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "paid_at": {"type": ["string", "null"], "format": "date-time"},
        "refunded_amount": {"type": "integer"},
        "stripe": {
            "type": "object",
            "properties": {
                "checkout_session_id": {"type": ["string", "null"]},
                "payment_intent_id": {"type": ["string", "null"]},
            },
        },
    },
}
_REFUND = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "payment_request_id": {"type": "string"},
        "amount": {"type": "integer", "description": "minor units"},
        "currency": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
        "source": {"type": "string", "enum": ["cash_desk", "panel", "api", "stripe"]},
        "stripe_refund_id": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
_PARTICIPANT_OUT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "token": {"type": "string"}, "join_url": {"type": "string"}},
}
_CONSULT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "clinic_id": {"type": "string"},
        "status": {"type": "string", "enum": ["active", "ended"]},
        "expires_at": {"type": "string", "format": "date-time"},
        "clinician": _PARTICIPANT_OUT,
        "patients": {"type": "array", "items": _PARTICIPANT_OUT},
        "payment_requests": {"type": "array", "items": _REQUEST},
    },
}


# The schema each operation's handler parses its body with.
REQUEST_BODIES: dict[str, Schema] = {
    "createConsult": inputs.CONSULT,
    "refundPaymentRequest": inputs.REFUND,
    "createBillCard": inputs.BILL_CARD,
    "changeBillCard": inputs.BILL_CARD_CHANGE,
}


def _body(schema: Schema, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema.json_schema()}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "error", "content": {"application/json": {"schema": _ERROR}}} for code in codes}


def _ok(code: int, schema: dict[str, Any]) -> dict[str, Any]:
    return {str(code): {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "ConsultPay plugin API", "version": "1"},
    "components": {
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"apiKey": []}],
    "paths": {
        "/api/v1/consults": {
            "post": {
                "operationId": "createConsult",
                "requestBody": _body(inputs.CONSULT),
                "responses": {**_ok(201, _CONSULT), **_errors(400, 401, 403, 404, 422)},
            }
        },
        "/api/v1/consults/{consult_id}": {
            "get": {
                "operationId": "getConsult",
                "parameters": [_path_id("consult_id")],
                "responses": {**_ok(200, _CONSULT), **_errors(401, 403, 404)},
            }
        },
        "/api/v1/consults/{consult_id}/end": {
            "post": {
                "operationId": "endConsult",
                "parameters": [_path_id("consult_id")],
                "responses": {**_ok(200, _CONSULT), **_errors(401, 403, 404)},
            }
        },
        "/api/v1/payment-requests/{request_id}": {
            "get": {
                "operationId": "getPaymentRequest",
                "parameters": [_path_id("request_id")],
                "responses": {**_ok(200, _REQUEST), **_errors(401, 403, 404)},
            }
        },
        "/api/v1/payment-requests/{request_id}/refunds": {
            "post": {
                "operationId": "refundPaymentRequest",
                "description": "Refund a paid request in full (no amount) or in part, on the clinic's Stripe account.",
                "parameters": [
                    _path_id("request_id"),
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "The same key for the same request refunds once, however often it is sent.",
                    },
                ],
                "requestBody": _body(inputs.REFUND, required=False),
                "responses": {**_ok(201, _REFUND), **_errors(400, 401, 403, 404, 409, 422, 503)},
            }
        },
    },
}

# Bill cards (the cash desk's *regningskort*), for host and accounting systems.
_STATUS = {
    "type": "string",
    "enum": [
        "under_work",
        "open",
        "open_exported",
        "paid",
        "invoice_generated",
        "manual_handling",
        "not_exported",
        "invoice_exported",
        "invoice_paid",
    ],
}
_BILL_CARD = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "clinic_id": {"type": "string"},
        "consult_id": {"type": ["string", "null"]},
        "book_id": {"type": ["string", "null"]},
        "status": _STATUS,
        "status_label": {"type": "string", "description": "the cash desk's Norwegian label"},
        "settled": {"type": "boolean"},
        "currency": {"type": "string"},
        "patient_share": {"type": "integer", "description": "minor units"},
        "refund_share": {"type": "integer", "description": "minor units"},
        "admin_fee": {"type": "boolean"},
        "patient": {"type": "object"},
        "lines": {"type": "array", "items": {"type": "object"}},
        "payments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "method": {"type": "string"},
                    "amount": {"type": "integer"},
                    "currency": {"type": "string"},
                    "reference": {"type": "string"},
                    "registered_at": {"type": "string", "format": "date-time"},
                },
            },
        },
        "medipay": {
            "type": "object",
            "properties": {
                "state": {"type": ["string", "null"]},
                "reason_code": {"type": ["string", "null"]},
                "message": {"type": ["string", "null"]},
                "exported_at": {"type": ["string", "null"], "format": "date-time"},
                "exported_patient_share": {"type": ["integer", "null"], "description": "minor units, as exported"},
                "admin_fee": {"type": "integer", "description": "MediPay's admin fee on the claim, minor units"},
                "next_retry_at": {"type": ["string", "null"], "format": "date-time",
                                  "description": "when a not exported card is tried again (daily)"},
            },
        },
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SPEC["paths"].update(
    {
        "/api/v1/bill-cards": {
            "get": {
                "operationId": "listBillCards",
                "description": "The organisation's bill cards, newest first, a page at a time.",
                "parameters": [
                    _query("status", {"type": "string"}, "one status code, or several separated by commas"),
                    _query("book_id", {"type": "string"}, "only cards in this book"),
                    _query("clinic_id", {"type": "string"}, "only cards of this clinic"),
                    _query("from", {"type": "string", "format": "date-time"}, "created at or after (ISO 8601)"),
                    _query("to", {"type": "string", "format": "date-time"}, "created before (ISO 8601)"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size, 20 by default"),
                    _query("starting_after", {"type": "string"}, "the last card id of the previous page"),
                    _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
                ],
                "responses": {
                    **_ok(
                        200,
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": _BILL_CARD},
                                "has_more": {"type": "boolean"},
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        },
                    ),
                    **_errors(401, 422),
                },
            },
            "post": {
                "operationId": "createBillCard",
                "description": "A bill card of service lines, in status open (waiting for export).",
                "requestBody": _body(inputs.BILL_CARD),
                "responses": {**_ok(201, _BILL_CARD), **_errors(400, 401, 403, 404, 409, 422)},
            },
        },
        "/api/v1/bill-cards/{card_id}": {
            "get": {
                "operationId": "getBillCard",
                "parameters": [_path_id("card_id")],
                "responses": {**_ok(200, _BILL_CARD), **_errors(401, 403, 404)},
            },
            "patch": {
                "operationId": "changeBillCard",
                "description": (
                    "Change the shares (an adjustment line carries the difference), replace the card's own lines, "
                    "and/or correct the patient. An exported card's patient share is locked (409 "
                    "patient_share_locked); its refund share may change. A paid card's shares cannot change."
                ),
                "parameters": [_path_id("card_id")],
                "requestBody": _body(inputs.BILL_CARD_CHANGE),
                "responses": {**_ok(200, _BILL_CARD), **_errors(400, 401, 403, 404, 409, 422)},
            },
        },
        "/api/v1/bill-cards/{card_id}/send-to-payment": {
            "post": {
                "operationId": "sendBillCardToPayment",
                "description": (
                    "Send til betaling: send one card to MediPay now instead of with the hourly transfer. "
                    "The answer is the card after MediPay's answer (open_exported, not_exported with the "
                    "reason, or manual_handling), or still open when MediPay is slow or down: the export is "
                    "retried under the same claim id. A card from a call takes over the call's open requests. "
                    "409: card_settled, already_exported, book_not_medipay, nothing_to_collect, checkout_open."
                ),
                "parameters": [_path_id("card_id")],
                "responses": {**_ok(200, _BILL_CARD), **_errors(401, 403, 404, 409)},
            },
        },
    }
)

# Reports (the cash desk's *Oppgjørsrapport* and MediPay earnings); see app/ledger/reports.py.
_PERIOD = [
    _query("from", {"type": "string", "maxLength": 40},
           "ISO 8601 date (a whole day in Europe/Oslo) or time (UTC when no zone), inclusive"),
    _query("to", {"type": "string", "maxLength": 40},
           "ISO 8601 date (that whole day included) or time (exclusive)"),
]
_FORMAT = _query("format", {"type": "string", "enum": ["json", "csv"]}, "csv: text/csv with a header row")
_CSV = {"text/csv": {"schema": {"type": "string"}}}
_TOTALS = {
    "type": "object",
    "properties": {k: {"type": "integer"} for k in
                   ("cards", "patient_share", "refund_share", "paid", "refunded", "admin_fees")}
    | {"currency": {"type": "string"}},
}
SPEC["paths"].update(
    {
        "/api/v1/reports/settlement": {
            "get": {
                "operationId": "settlementReport",
                "description": (
                    "Which bill cards, how many, and their sums (minor units). exported=true: the cards that went "
                    "to MediPay, the period on exported_at; otherwise the period is on created_at. basis_type: "
                    "call (made by a payment request in a video call) or card (made at the cash desk or over "
                    "this API). payment_type: cards with at least one payment of that method."
                ),
                "parameters": [
                    _query("exported", {"type": "string", "enum": ["true", "false"]}, "exported to MediPay or not"),
                    _query("unit", {"type": "string", "maxLength": 100}, "a clinic id"),
                    _query("book_id", {"type": "string", "maxLength": 100}, "a book id"),
                    _query("basis_type", {"type": "string", "enum": ["call", "card"]}, "where the card came from"),
                    _query("payment_type", {"type": "string", "enum": ["stripe", "card", "vipps", "invoice",
                                                                       "manual"]}, "how it was paid"),
                    *_PERIOD,
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "cards listed, 100 by default"),
                    _query("offset", {"type": "integer", "minimum": 0}, "cards to skip (next_offset)"),
                    _FORMAT,
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "cards_count": {"type": "integer"},
                                        "totals": {"type": "array", "items": _TOTALS},
                                        "by_payment_type": {"type": "array", "items": {"type": "object"}},
                                        "cards": {"type": "array", "items": {"type": "object"}},
                                        "has_more": {"type": "boolean"},
                                        "next_offset": {"type": ["integer", "null"]},
                                    },
                                }
                            },
                            **_CSV,
                        },
                    },
                    **_errors(401, 422),
                },
            }
        },
        "/api/v1/reports/medipay-earnings": {
            "get": {
                "operationId": "medipayEarningsReport",
                "description": (
                    "Cards exported in the period and settled through MediPay: patient share, admin fees, and "
                    "MediPay's cost = cards × price_per_card + price_percent of the total (patient share + admin "
                    "fees), the percentage rounded half up to a whole minor unit. NOK, minor units."
                ),
                "parameters": [
                    *_PERIOD,
                    _query("price_per_card", {"type": "integer", "minimum": 0, "maximum": 10_000_000},
                           "MediPay's price per card, minor units"),
                    _query("price_percent", {"type": "string", "pattern": "^[0-9]{1,3}([.,][0-9]{1,2})?$"},
                           "MediPay's price as percent of the total, e.g. 2.5"),
                    _query("unit", {"type": "string", "maxLength": 100}, "a clinic id"),
                    _query("book_id", {"type": "string", "maxLength": 100}, "a book id"),
                    _FORMAT,
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {k: {"type": "integer"} for k in (
                                        "cards", "patient_share", "admin_fees", "total", "medipay_cost",
                                        "medipay_cost_per_card", "medipay_cost_percent", "net")},
                                }
                            },
                            **_CSV,
                        },
                    },
                    **_errors(401, 422),
                },
            }
        },
    }
)
