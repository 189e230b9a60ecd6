"""The typed edges: each command is its input schema, and services take commands and return views.

A command that drifts from its schema (a field added to one only, a required
field with a default) stops the app at import; parsing refuses what the schema
refuses and builds nested commands; the views serialise field for field in the
order the contract writes them.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from app import commands, inputs
from app.billing import card_views, serialisers
from app.collection.fallback import MediPayFallback
from app.commands import Command, CreateConsult, NewPatient, RequestPayment, SendBillCard, command
from app.consults.service import ConsultService
from app.errors import BadInput, Invalid
from app.payments.refunds import RefundService
from app.payments.requests import PaymentService
from app.schema import Schema, Text, Whole

COMMANDS = [c for c in vars(commands).values()
            if isinstance(c, type) and issubclass(c, Command) and c is not Command]


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_every_command_has_exactly_its_schemas_fields(cls: type[Command]) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    assert set(fields) == set(cls.SCHEMA.fields)
    assert {n for n, f in fields.items() if f.default is dataclasses.MISSING} == set(cls.SCHEMA.required)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_a_command_that_drifts_from_its_schema_is_refused_at_import() -> None:
    schema = Schema(fields={"amount": Whole(minimum=1, maximum=10), "note": Text()}, required=("amount",))
    with pytest.raises(TypeError, match="not the schema's"):
        @command(schema)
        class Missing(Command):
            amount: int

    with pytest.raises(TypeError, match="required"):
        @command(schema)
        class Defaulted(Command):
            amount: int = 1
            note: str | None = None


def test_parsing_builds_nested_commands_and_refuses_as_the_schema_does() -> None:
    made = CreateConsult.parse({
        "clinic_id": "cl_1", "clinician": {"id": 7, "name": "Dr. Lege"},
        "patients": [{"name": "Kari", "address": {"city": "Oslo"}}], "currency": "NOK",
    })
    assert made.clinician.id == "7" and made.clinician.name == "Dr. Lege"
    assert made.patients == (NewPatient(name="Kari", address={"city": "Oslo"}),)
    assert made.language is None
    with pytest.raises(Invalid) as e:
        RequestPayment.parse({"amout": 100})
    assert (e.value.code, e.value.params["field"]) == ("unknown_field", "amout")
    with pytest.raises(Invalid) as e:
        CreateConsult.parse({"clinic_id": "cl_1", "clinician": {"id": "u", "name": "n"}, "patients": [{}]})
    assert e.value.params["field"] == "patients[0].name"
    with pytest.raises(BadInput):
        RequestPayment.parse([1])
    assert SendBillCard.parse(None, empty=True) == SendBillCard()


def test_the_payload_schemas_are_the_ones_the_commands_parse_with() -> None:
    assert RequestPayment.SCHEMA is inputs.PAYMENT_REQUEST
    assert commands.CancelRequest.SCHEMA is inputs.REQUEST_REF
    assert commands.RefundPayment.SCHEMA is inputs.PANEL_REFUND
    assert commands.RefundBody.SCHEMA is inputs.REFUND
    assert SendBillCard.SCHEMA is inputs.BILL_CARD_SEND
    assert CreateConsult.SCHEMA is inputs.CONSULT


@pytest.mark.parametrize(("method", "takes", "returns"), [
    (PaymentService.request, commands.RequestPayment, serialisers.RequestView),
    (PaymentService.cancel, commands.CancelRequest, serialisers.RequestView),
    (PaymentService.checkout, commands.OpenCheckout, str),
    (RefundService.refund_in_call, commands.RefundPayment, serialisers.RefundResult),
    (MediPayFallback.send, commands.SendBillCard, card_views.CardSent),
    (MediPayFallback.preview, commands.PreviewBillCard, card_views.CardPreviewed),
    (ConsultService.create, commands.CreateConsult, serialisers.ConsultView),
], ids=lambda x: getattr(x, "__qualname__", ""))
def test_services_at_the_edges_take_commands_and_return_views(method, takes, returns) -> None:  # type: ignore[no-untyped-def]
    hints = typing.get_type_hints(method)
    params = list(inspect.signature(method).parameters)
    assert hints[params[-1]] is takes
    assert hints["return"] is returns


def test_views_serialise_in_the_contracts_order() -> None:
    view = serialisers.ConsultDetail(
        id="con_1", clinic_id="cl_1", external_id=None, status="active", currency="NOK", language="nb",
        created_at="2026-01-01T00:00:00Z", expires_at=None, ended_at=None,
        clinician=serialisers.JoiningClinician(id="u", name="Dr", token="t", join_url="http://x/join/t"),
        patients=[serialisers.PersonView(id="p-1", name="Kari")], payment_requests=[],
    )
    out = serialisers.as_json(view)
    assert list(out) == ["id", "clinic_id", "external_id", "status", "currency", "language", "created_at",
                         "expires_at", "ended_at", "clinician", "patients", "payment_requests"]
    assert out["clinician"] == {"id": "u", "name": "Dr", "token": "t", "join_url": "http://x/join/t"}
    assert out["patients"] == [{"id": "p-1", "name": "Kari"}]
