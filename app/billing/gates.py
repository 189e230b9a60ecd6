"""A patient's payment policy in a consult, and the gate it puts before the call.

The policy (``consult_patients.payment_policy`` and its amount, words and
no-show fee) is what the host set for the patient, else for the consult, else
the clinic's default (``app/payments/policies.py`` resolves and checks it). A
``before_join``, ``hold`` or ``card_on_file`` policy has a *gate*: one payment request of that
kind, made with the consult, that the patient pays (or whose card they
authorise) in the waiting room. Its state is read from the request's status,
by the statuses' string values, so holds' own statuses (``authorised``,
``released``) and a card on file's (``card_saved``) read the same wherever
they are defined. A ``card_on_file`` gate is a request of that kind whose
patient saves a card in the waiting room; it is charged after the call.

Pure functions of rows (or of a request's JSON, for the notifier): every view
and event that shows a gate makes it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum, unique
from typing import Any


@unique
class PolicyKind(StrEnum):
    IN_CALL = "in_call"  # asked for in the call, as always
    BEFORE_JOIN = "before_join"  # a fixed amount paid in the waiting room
    HOLD = "hold"  # a card authorised in the waiting room, captured up to the hold after the call
    CARD_ON_FILE = "card_on_file"  # a card saved in the waiting room, charged off-session after the call


# The kinds whose patient passes a gate before the call.
GATED = frozenset({PolicyKind.BEFORE_JOIN, PolicyKind.HOLD, PolicyKind.CARD_ON_FILE})


@unique
class GateStatus(StrEnum):
    WAITING = "waiting"  # nothing paid or authorised yet
    PAID = "paid"  # before_join: paid
    AUTHORISED = "authorised"  # hold: the card is authorised, nothing captured
    CAPTURED = "captured"  # hold: (part of) the hold captured
    RELEASED = "released"  # hold: released without capture, or lapsed
    EXPIRED = "expired"  # ended without a payment or an authorisation
    SAVED = "card_saved"  # card_on_file: the card is saved (Stripe's SetupIntent succeeded), nothing charged
    CHARGED = "charged"  # card_on_file: the final amount charged to the saved card


# A gate the patient has passed: paid, authorised, (a hold) captured, or (a card on file) saved or
# charged. Only through an open gate (or with no gate at all) does a patient join the call
# (docs/rules.md, rule H4).
OPEN_GATES = frozenset({GateStatus.PAID, GateStatus.AUTHORISED, GateStatus.CAPTURED, GateStatus.SAVED,
                        GateStatus.CHARGED})

_WAITING = {"requested", "checkout_open"}
_PAID = {"paid", "refunded", "partially_refunded"}


def gate_status(kind: str, request_status: str) -> GateStatus:
    """The gate's status, from its request's status (its string value)."""
    status = str(request_status)
    if status in _WAITING:
        return GateStatus.WAITING
    if status in _PAID:
        return {PolicyKind.HOLD: GateStatus.CAPTURED, PolicyKind.CARD_ON_FILE: GateStatus.CHARGED}.get(
            str(kind), GateStatus.PAID)
    if status == "card_saved":
        return GateStatus.SAVED
    if status == "authorised":
        return GateStatus.AUTHORISED
    if status == "released":
        return GateStatus.RELEASED
    return GateStatus.EXPIRED  # cancelled, expired, failed


def gate_of(kind: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """The gate of a request given as its JSON view (or a mapping with those keys).

    ``amount``: what the patient pays before joining, or the hold's amount.
    """
    status = gate_status(kind, request["status"])
    gate: dict[str, Any] = {"kind": str(kind), "status": str(status), "request_id": request["id"]}
    if kind == PolicyKind.HOLD:
        gate["amount"] = request.get("hold_amount") or request["amount"]
        gate["authorised_at"] = request.get("authorised_at")
    elif kind == PolicyKind.CARD_ON_FILE:
        # What the clinic expects to charge; the final amount is set after the call.
        gate["amount"] = request["amount"]
        gate["saved_at"] = request.get("authorised_at")
    else:
        gate["amount"] = request["amount"]
        gate["paid_at"] = request.get("paid_at")
    gate["currency"] = request.get("currency")
    gate["description"] = request.get("description")
    return gate


def gate_of_request(request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The gate a request's JSON view stands for, or None for a request that is no gate."""
    kind = request.get("kind") or PolicyKind.IN_CALL
    return gate_of(kind, request) if kind in GATED else None


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def gate_view(patient: Any, requests: Mapping[str, Any]) -> dict[str, Any] | None:
    """A patient's gate (``requests``: the consult's request rows by id), or None without one."""
    request_id = getattr(patient, "gate_request_id", None)
    r = requests.get(request_id) if request_id else None
    if r is None or patient.payment_policy not in GATED:
        return None
    return gate_of(patient.payment_policy, {
        "id": r.id, "status": r.status, "amount": r.amount, "currency": r.currency, "description": r.description,
        "hold_amount": getattr(r, "hold_amount", None), "paid_at": _iso(r.paid_at),
        "authorised_at": _iso(getattr(r, "authorised_at", None)),
    })


def policy_view(patient: Any) -> dict[str, Any]:
    """The patient's resolved policy as the API gives it back."""
    kind = patient.payment_policy or PolicyKind.IN_CALL
    return {"kind": str(kind), "amount": patient.policy_amount, "description": patient.policy_description,
            "no_show_fee": patient.no_show_fee}


def gate_is_open(patient: Any, requests: Mapping[str, Any]) -> bool:
    """Whether the patient may be in the call: no gate, or one they have passed."""
    gate = gate_view(patient, requests)
    return gate is None or gate["status"] in OPEN_GATES


def gates_of(patients: list[Any], requests: list[Any]) -> dict[str, dict[str, Any] | None]:
    """Each patient's gate, by patient id, from the consult's patients and requests."""
    by_id = {r.id: r for r in requests}
    return {p.patient_id: gate_view(p, by_id) for p in patients}
