"""The OpenAPI 3 description served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

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
_ADDRESS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        k: {"type": "string", "maxLength": 200} for k in ("line1", "line2", "postal_code", "city", "country")
    },
}
_PATIENT_IN = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "id": {"type": "string", "maxLength": 200},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "email": {"type": "string", "format": "email"},
        "national_id": {"type": "string", "description": "Norwegian fødselsnummer or D-number, 11 digits"},
        "mobile": {"type": "string", "description": "E.164, e.g. +4791234567"},
        "address": _ADDRESS,
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
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["clinic_id", "clinician", "patients"],
                                "properties": {
                                    "clinic_id": {"type": "string"},
                                    "external_id": {"type": "string", "maxLength": 200},
                                    "clinician": {
                                        "type": "object",
                                        "required": ["id", "name"],
                                        "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                                    },
                                    "patients": {"type": "array", "minItems": 1, "maxItems": 20, "items": _PATIENT_IN},
                                    "currency": {"type": "string", "minLength": 3, "maxLength": 3},
                                    "language": {"type": "string", "enum": ["nb", "en", "sv"]},
                                },
                            }
                        }
                    },
                },
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
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "amount": {
                                        "type": "integer",
                                        "minimum": 1,
                                        "description": "minor units; omit to refund all that remains",
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {**_ok(201, _REFUND), **_errors(400, 401, 403, 404, 409, 422, 503)},
            }
        },
    },
}
