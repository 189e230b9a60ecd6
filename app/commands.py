"""What the edges hand the services: typed, frozen commands, one per input schema.

A command is a frozen dataclass declared against one schema of ``app/inputs.py``
with ``@command(SCHEMA)``. The decorator refuses, when the module is imported,
a class whose fields are not exactly the schema's, or whose required fields
have a default or optional ones none: a field added to one and not the other
stops the service from starting, so the two cannot drift. ``Cmd.parse(payload)``
checks the payload with the schema (the same refusals as before: unknown
field, wrong type, out of range) and builds the command; nested objects become
their own commands, lists of them tuples.

The services take these and nothing looser; a transport parses, calls one
service with the command, and serialises what comes back
(``app/billing/serialisers.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from app import inputs
from app.schema import ListOf, Schema

T = TypeVar("T")


class Command:
    """The base of every command: ``parse`` a payload, ``build`` from a schema's clean dict."""

    SCHEMA: ClassVar[Schema]
    # Fields that are objects (or lists of objects) of their own: the command class for each.
    NESTED: ClassVar[Mapping[str, type[Command] | type[dict[str, Any]]]] = {}

    @classmethod
    def parse(cls, payload: Any, *, empty: bool = False) -> Self:
        """Check ``payload`` with the schema (``Invalid`` names the field) and build the command."""
        return cls.build(cls.SCHEMA.parse(payload, empty=empty))

    @classmethod
    def build(cls, data: Mapping[str, Any]) -> Self:
        values: dict[str, Any] = {}
        for name, value in data.items():
            nested = cls.NESTED.get(name)
            if nested is dict:
                pass  # kept as the JSON object it is
            elif nested is not None and isinstance(value, list):
                value = tuple(nested.build(item) for item in value)
            elif nested is not None and value is not None:
                value = nested.build(value)
            values[name] = value
        return cls(**values)


def command(schema: Schema, **nested: type[Command] | type[dict[str, Any]]) -> Callable[[type[T]], type[T]]:
    """Declare a frozen dataclass as the command of ``schema``; checked against it at import.

    ``nested`` names the command of each object field (``dict``: the object is kept as it is).
    """

    def declare(cls: type[T]) -> type[T]:
        made = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        fields = {f.name: f for f in dataclasses.fields(made)}
        if set(fields) != set(schema.fields):
            raise TypeError(f"{cls.__name__}: fields {sorted(fields)} are not the schema's {sorted(schema.fields)}")
        for name, f in fields.items():
            has_default = f.default is not dataclasses.MISSING
            if (name in schema.required) == has_default:
                raise TypeError(f"{cls.__name__}.{name}: required in the schema exactly when it has no default")
            kind = schema.fields[name]
            item = kind.items if isinstance(kind, ListOf) else kind
            if isinstance(item, Schema) != (name in nested):
                raise TypeError(f"{cls.__name__}.{name}: an object field needs its own command, and only then")
            if name in nested and nested[name] is not dict and nested[name].SCHEMA is not item:  # type: ignore[attr-defined]
                raise TypeError(f"{cls.__name__}.{name}: its command is not declared against the field's schema")
        made.SCHEMA = schema  # type: ignore[attr-defined]
        made.NESTED = dict(nested)  # type: ignore[attr-defined]
        return made

    return declare


# -- REST: consults ------------------------------------------------------------------------------


@command(inputs.CONSULT.fields["clinician"])  # type: ignore[arg-type]
class ClinicianRef(Command):
    id: str
    name: str


@command(inputs.PAYMENT_POLICY)
class PaymentPolicy(Command):
    """A payment policy as the host sets it, for the consult or one patient (checked by the service)."""

    kind: str
    amount: int | None = None
    description: str | None = None
    no_show_fee: int | None = None


@command(inputs.CONSULT_PATIENT, address=dict, payment_policy=PaymentPolicy)
class NewPatient(Command):
    name: str
    id: str | None = None
    email: str | None = None
    national_id: str | None = None
    mobile: str | None = None
    # The address stays a JSON object: it is stored and answered as it was given.
    address: dict[str, str] | None = None
    # This patient's own policy; it wins over the consult's.
    payment_policy: PaymentPolicy | None = None


@command(inputs.CONSULT, clinician=ClinicianRef, patients=NewPatient, payment_policy=PaymentPolicy)
class CreateConsult(Command):
    """``POST /api/v1/consults``."""

    clinic_id: str
    clinician: ClinicianRef
    patients: tuple[NewPatient, ...]
    external_id: str | None = None
    currency: str | None = None
    language: str | None = None
    # Every patient's policy unless theirs is given; without either, the clinic's default.
    payment_policy: PaymentPolicy | None = None


# -- Socket.IO, in the call ----------------------------------------------------------------------


@command(inputs.PAYMENT_REQUEST)
class RequestPayment(Command):
    """``payment:request``: the consult is the socket's; currency and patient default to the consult's.

    With ``patient_ids`` it asks several patients of a group consult at once (``patient_id`` then absent)."""

    amount: int | None = None
    currency: str | None = None
    description: str | None = None
    patient_id: str | None = None
    # A group consult's patients (``"all"``, or 1–20 distinct ids): one request each (``request_group``).
    patient_ids: list[str] | str | None = None
    idempotency_key: str | None = None
    confirmed: bool | None = None


@command(inputs.REQUEST_REF)
class CancelRequest(Command):
    """``payment:cancel``."""

    request_id: str


@command(inputs.REQUEST_REF)
class OpenCheckout(Command):
    """``payment:checkout``: the patient's Checkout page for one of their requests."""

    request_id: str


@command(inputs.PAYMENT_VIPPS)
class PayWithVipps(Command):
    """``payment:vipps``: the patient pays one of their requests with Vipps (push, QR or app switch)."""

    request_id: str
    flow: str | None = None
    phone: str | None = None


@command(inputs.PANEL_REFUND)
class RefundPayment(Command):
    """``payment:refund`` from the panel, and ``POST …/refunds`` (request from the path, key from the header)."""

    request_id: str
    amount: int | None = None
    idempotency_key: str | None = None


@command(inputs.REFUND)
class RefundBody(Command):
    """The body of ``POST /api/v1/payment-requests/{id}/refunds``: no amount refunds all that remains."""

    amount: int | None = None

    def command(self, request_id: str, idempotency_key: str | None) -> RefundPayment:
        return RefundPayment(request_id=request_id, amount=self.amount, idempotency_key=idempotency_key)


@command(inputs.BILL_CARD_PREVIEW)
class PreviewBillCard(Command):
    """``bill_card:preview``: what the patient would be asked by SMS if the card were sent now."""

    request_id: str | None = None
    patient_id: str | None = None


@command(inputs.BILL_CARD_SEND)
class SendBillCard(Command):
    """``bill_card:send``: the card of the request's patient (or the given, or the only patient) to MediPay.

    ``expect_total``: the total the clinician confirmed from the preview; the send is refused if it changed.
    """

    request_id: str | None = None
    patient_id: str | None = None
    expect_total: int | None = None


@command(inputs.PANEL_CAPTURE)
class CaptureHold(Command):
    """``payment:capture``: capture ``amount`` (at most the hold) of an authorised card hold."""

    request_id: str
    amount: int
    description: str | None = None
    idempotency_key: str | None = None


@command(inputs.REQUEST_REF)
class ReleaseHold(Command):
    """``payment:release``: release an authorised card hold without capturing anything."""

    request_id: str


@command(inputs.PRESENT)
class MarkPresent(Command):
    """``patient:present``: the patient is in the call, their gate having opened while they were connected."""


@command(inputs.CAPTURE)
class CaptureBody(Command):
    """The body of ``POST /api/v1/payment-requests/{id}/capture``."""

    amount: int
    description: str | None = None
