"""Consults: creating them, reading them, ending them, and who may join."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import fields, replace
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, select

from app import validation as v
from app.billing import cards
from app.billing.gate_end import cancel_unpaid_gates
from app.billing.gates import gate_is_open, gates_of
from app.billing.no_show_view import NoShowView, PatientOutcome, no_show_of
from app.billing.serialisers import (
    AfterEnd,
    ConsultDetail,
    ConsultState,
    ConsultView,
    JoiningClinician,
    JoiningPatient,
    Me,
    PaidRequest,
    PatientView,
    RequestView,
    consult_view,
    iso,
    request_view,
)
from app.billing.statuses import Onward
from app.clock import Clock
from app.commands import CreateConsult
from app.consults.join_read import read_join
from app.consults.notifier import Notifier, request_changed
from app.consults.participant import ConsultRow, Participant, require_role
from app.consults.presence import mark_joined
from app.consults.tokens import JoinClaims, TokenSigner
from app.db import Database
from app.errors import DomainError, Forbidden, Invalid, NotFound, Unauthenticated
from app.i18n import SUPPORTED as LANGUAGES
from app.ids import new_id
from app.models import BillCard, Clinic, Consult, ConsultPatient, PaymentRefund, PaymentRequest
from app.money import MoneyError, normalise_currency
from app.ready import Ready
from app.schema import clean_text

MAX_PATIENTS = 20


class Gates(Protocol):
    """Payment policies, as consults need them (``app/payments/policies.py``, handed in by the wiring)."""

    def resolve(self, clinic: Clinic, currency: str, consult_policy: Any, patient_policies: list[Any]) -> list[Any]:
        ...

    async def open(self, s: Any, consult: Consult, patients: list[ConsultPatient], *, actor_type: str,
                   actor_id: str, now: Any) -> list[Any]: ...


class ConsultService:
    def __init__(
        self, db: Database, *, clock: Clock, signer: TokenSigner, notifier: Notifier, public_url: str, ttl_seconds: int,
        gates: Gates,
    ) -> None:
        self.gates = gates
        self.db = db
        self.clock = clock
        self.signer = signer
        self.notifier = notifier
        self.public_url = public_url
        self.ttl = timedelta(seconds=ttl_seconds)
        # Run with the consult's id once the host has ended it (the no-shows: app/payments/no_shows.py).
        self.ended_hooks: list[Callable[[str], Awaitable[Any]]] = []

    # -- REST, on behalf of an organisation ------------------------------------------------

    async def create(self, organisation_id: str, cmd: CreateConsult) -> ConsultView:
        clinic_id = clean_text(cmd.clinic_id, "clinic_id", max_len=100)
        clinician_id = clean_text(cmd.clinician.id, "id")
        clinician_name = clean_text(cmd.clinician.name, "name")
        if not cmd.patients:
            raise Invalid("missing_field", "patients must hold at least one patient", field="patients")
        if len(cmd.patients) > MAX_PATIENTS:
            raise Invalid("too_many_patients", f"at most {MAX_PATIENTS} patients", field="patients")
        patients: list[dict[str, Any]] = []
        for n, p in enumerate(cmd.patients, start=1):
            patients.append(
                {
                    "patient_id": clean_text(p.id, "id", required=False) or f"p-{n}",
                    "name": clean_text(p.name, "name"),
                    "email": v.email(p.email),
                    "national_id": v.national_id(p.national_id),
                    "mobile": v.mobile(p.mobile),
                    "address": v.address(p.address),
                    "position": n,
                }
            )
        if len({p["patient_id"] for p in patients}) != len(patients):
            raise Invalid("duplicate_patient", "patient ids must be unique", field="patients")
        external_id = clean_text(cmd.external_id, "external_id", required=False)
        language = cmd.language or "nb"
        if language not in LANGUAGES:
            raise Invalid("invalid_language", f"language must be one of {', '.join(LANGUAGES)}", field="language")

        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id)
            if clinic is None:
                raise NotFound("clinic_not_found", "No such clinic.")
            if clinic.organisation_id != organisation_id:
                raise Forbidden("forbidden", "That clinic belongs to another organisation.")
            currency = _allowed_currency(clinic, cmd.currency)
            # Each patient's payment policy, checked before anything is written.
            policies = self.gates.resolve(clinic, currency, cmd.payment_policy,
                                          [p.payment_policy for p in cmd.patients])
            consult = Consult(
                id=new_id("con"),
                organisation_id=organisation_id,
                clinic_id=clinic.id,
                external_id=external_id,
                clinician_id=clinician_id,
                clinician_name=clinician_name,
                currency=currency,
                language=language,
                status="active",
                created_at=now,
                expires_at=now + self.ttl,
            )
            s.add(consult)
            await s.flush()
            rows = [ConsultPatient(consult_id=consult.id, **p, **policy.columns())
                    for p, policy in zip(patients, policies, strict=True)]
            s.add_all(rows)
            await s.flush()
            # The gates' requests, in this transaction: no consult without them.
            made = await self.gates.open(s, consult, rows, actor_type="api", actor_id=organisation_id,
                                         now=now)

        view = ConsultView.from_row(consult, rows, gates=gates_of(rows, made))
        clinician = JoiningClinician(**vars(view.clinician), **self._join(consult, "clinician", clinician_id or ""))
        joining = [JoiningPatient(**vars(p), **self._join(consult, "patient", p.id)) for p in view.patients]
        return replace(view, clinician=clinician, patients=joining)

    def _join(self, consult: Consult, role: str, participant_id: str) -> dict[str, str]:
        token = self.signer.issue(
            consult_id=consult.id,
            role=role,
            participant_id=participant_id,
            now=self.clock.now(),
            expires_at=consult.expires_at,
        )
        return {"token": token, "join_url": f"{self.public_url}/join/{token}"}

    async def get(self, organisation_id: str, consult_id: str) -> ConsultDetail:
        async with self.db.read() as s:
            consult = await self._owned(s, organisation_id, consult_id)
            return await self._detail(s, consult)

    async def _detail(self, s: Any, consult: Consult) -> ConsultDetail:
        patients, rows = await self._patients(s, consult.id), await self._requests(s, consult.id)
        view = ConsultView.from_row(consult, patients, gates=gates_of(patients, rows))
        outcomes = []
        for p, shown in zip(patients, view.patients, strict=True):
            no_show = await no_show_of(s, p, rows)
            outcomes.append(PatientOutcome(**{f.name: getattr(shown, f.name) for f in fields(PatientView)},
                                           no_show=NoShowView(**no_show) if no_show else None))
        requests = [RequestView.from_row(r, self.public_url) for r in rows]
        return ConsultDetail(**{**view.fields(), "patients": outcomes}, payment_requests=requests)

    async def end(self, organisation_id: str, consult_id: str) -> ConsultDetail:
        now = self.clock.now()
        ended: list[PaymentRequest] = []
        gates: list[PaymentRequest] = []
        async with self.db.write() as s:
            consult = await self._owned(s, organisation_id, consult_id, lock=True)
            if consult.status == "active":
                consult.status = "ended"
                consult.ended_at = now
                # An unpaid gate is not owed: the patient never got in (rule H5).
                gates = await cancel_unpaid_gates(s, consult.id, now)
                # Requests nobody has started paying end with the call; an open
                # checkout runs on until Stripe settles or expires it.
                for r in await self._requests(s, consult.id):
                    if r.status == "requested":
                        ended.append(r)
                kept: set[str] = set()
                for r in ended:
                    # What a MediPay book collects stays owed; otherwise it ends with the call.
                    card = await s.get(BillCard, r.bill_card_id)
                    # A hold never authorised (a card never saved) owes nothing: there is nothing to keep.
                    keep = card is not None and card.book_id is not None and r.kind not in ("hold", "card_on_file")
                    await cards.finish_unpaid(s, r, "expired", "consultation ended", now, keep_line=keep)
                    if keep:
                        kept.add(r.id)
                queued = {c.id for c in await cards.queue_after_call(s, consult, now)}
                for r in ended:
                    # Each says where its amount went, not just "expired" (docs/rules.md, rule P13).
                    r.onward = (Onward.MEDIPAY_QUEUE if r.bill_card_id in queued
                                else Onward.BILL_CARD if r.id in kept else Onward.NOT_COLLECTED)
            view = await self._detail(s, consult)
        for r in [*gates, *ended]:
            await request_changed(self.notifier, request_view(r))
        await self.notifier.consult_ended(consult_id, {"consult": consult_view(consult, [], full=False)})
        if self.ended_hooks:
            for hook in self.ended_hooks:
                await hook(consult_id)
            async with self.db.read() as s:
                view = await self._detail(s, consult)
        return view

    async def admit(self, organisation_id: str, consult_id: str, patient_id: str) -> PatientView:
        """The host's server let the patient into the call: joined (once), if their gate is open."""
        async with self.db.read() as s:
            consult = await self._owned(s, organisation_id, consult_id)
        await mark_joined(self.db, self.notifier, consult.id, patient_id, self.clock.now())
        async with self.db.read() as s:
            patients, rows = await self._patients(s, consult.id), await self._requests(s, consult.id)
        view = ConsultView.from_row(consult, patients, gates=gates_of(patients, rows))
        return next(p for p in view.patients if isinstance(p, PatientView) and p.id == patient_id)

    # -- who is in the call ------------------------------------------------------------------

    async def present(self, who: Participant) -> str | None:
        """``patient:present``: the patient's panel, connected, saw its gate open; joined_at."""
        require_role(who, "patient")
        patient = await mark_joined(self.db, self.notifier, who.consult.id, who.id, self.clock.now())
        return iso(patient.joined_at)

    async def participant(self, token: object) -> Participant:
        """The person a join token names, if the token is good and the consult still runs."""
        now = self.clock.now()
        claims = self.signer.verify(token, now=now)
        # Every socket event asks this: a ready statement on the driver, no session (app/ready.py).
        row = await self.db.run_read(_CONSULT.first, {"id": claims.consult_id})
        return _in_call(claims, None if row is None else ConsultRow(**row), now)

    async def after_end(self, token: object) -> AfterEnd | None:
        """What a join link shows once its consult has ended: the person's paid requests.

        None unless the token is one we signed and its consult is over (a
        forged or unknown token still gets the plain refusal). The patient sees
        their own requests, the clinician the consult's; each carries its
        receipt link and its refunds' credit-note links.
        """
        now = self.clock.now()
        try:
            claims = self.signer.verify(token, now=now, allow_expired=True)
        except Unauthenticated:
            return None
        async with self.db.read() as s:
            consult = await s.get(Consult, claims.consult_id)
            if consult is None or (consult.status == "active" and consult.expires_at > now):
                return None
            mine = claims.role == "clinician"
            every = await self._requests(s, consult.id)
            requests = [r for r in every if r.receipt_reference and (mine or r.patient_id == claims.participant_id)]
            me = None if mine else await s.get(ConsultPatient, (consult.id, claims.participant_id))
            no_show = await no_show_of(s, me, every) if me is not None else None
            refunds = list(await s.scalars(
                select(PaymentRefund)
                .where(PaymentRefund.payment_request_id.in_([r.id for r in requests]),
                       PaymentRefund.credit_note_reference.is_not(None))
                .order_by(PaymentRefund.created_at)
            )) if requests else []
        return AfterEnd(
            consult=ConsultView.from_row(consult, [], full=False),
            role=claims.role,
            requests=[PaidRequest.from_rows(r, refunds, self.public_url) for r in requests],
            no_show=NoShowView(**no_show) if no_show else None,
        )

    async def state(self, who: Participant) -> ConsultState:
        """``consult:state``: everything this person may see, for a (re)connect."""
        async with self.db.read() as s:
            patients = await self._patients(s, who.consult.id)
            requests = await self._requests(s, who.consult.id)
            consult = await s.get(Consult, who.consult.id)
        assert consult is not None
        return self._state_view(who, consult, patients, requests)

    def claims(self, token: object) -> JoinClaims:
        """What a join token says, checked (signature, expiry) without the database."""
        return self.signer.verify(token, now=self.clock.now())

    async def join(self, claims: JoinClaims) -> tuple[Participant, ConsultState, list[Any], Any]:
        """A (re)connect: the consult still running, the ``consult:state`` and the bill cards of ``claims``,
        and for a clinician the clinic's amount limits (they go to the panel; None for a patient).

        One ready statement on the driver (``app/consults/join_read.py``), where the session and its
        five ORM statements cost most of a connect; a reconnect storm makes thousands at once.
        """
        now = self.clock.now()
        patient_id = None if claims.role == "clinician" else claims.participant_id
        read = await self.db.run_read(read_join, claims.consult_id, patient_id)
        who = _in_call(claims, read.consult if read is not None else None, now)
        assert read is not None
        patients, requests = read.patients, read.requests
        me = next((p for p in patients if p.patient_id == who.id), None) if who.role == "patient" else None
        if me is not None and me.joined_at is None and gate_is_open(me, {r.id: r for r in requests}):
            # In the call, not in the waiting room: the first time, one write, never again on a reconnect.
            with suppress(DomainError):  # ended meanwhile, or the gate closed again: not joined
                await mark_joined(self.db, self.notifier, who.consult.id, who.id, now)
        limits = read.limits if who.role == "clinician" else None
        return who, self._state_view(who, who.consult, patients, requests), read.cards, limits

    def _state_view(self, who: Participant, consult: Any, patients: list[Any], requests: list[Any]) -> ConsultState:
        if who.role == "patient":
            patients = [p for p in patients if p.patient_id == who.id]
            requests = [r for r in requests if r.patient_id == who.id]
        gates = gates_of(patients, requests)
        return ConsultState(
            # The clinician sees each patient's gate; the patient their own, as ``me.gate``.
            consult=ConsultView.from_row(consult, patients, full=False,
                                         gates=gates if who.role == "clinician" else None),
            role=who.role,
            me=Me(id=who.id, gate=gates.get(who.id) if who.role == "patient" else None),
            requests=[RequestView.from_row(r, self.public_url) for r in requests],
        )

    # -- helpers -------------------------------------------------------------------------------

    async def _owned(self, s: Any, organisation_id: str, consult_id: str, *, lock: bool = False) -> Consult:
        query = select(Consult).where(Consult.id == consult_id)
        if lock:
            query = query.with_for_update()
        consult = await s.scalar(query)
        if consult is None:
            raise NotFound("consult_not_found", "No such consult.")
        if consult.organisation_id != organisation_id:
            raise Forbidden("forbidden", "That consult belongs to another organisation.")
        return consult

    @staticmethod
    async def _patients(s: Any, consult_id: str) -> list[ConsultPatient]:
        rows = await s.scalars(
            select(ConsultPatient).where(ConsultPatient.consult_id == consult_id).order_by(ConsultPatient.position)
        )
        return list(rows)

    @staticmethod
    async def _requests(s: Any, consult_id: str) -> list[PaymentRequest]:
        rows = await s.scalars(
            select(PaymentRequest).where(PaymentRequest.consult_id == consult_id).order_by(PaymentRequest.created_at)
        )
        return list(rows)


def clinic_currencies(clinic: Clinic) -> tuple[str, ...]:
    """The currencies a clinic takes payments in: today its one currency."""
    return (clinic.currency,)


def _allowed_currency(clinic: Clinic, given: Any) -> str:
    """The consult's currency: the clinic's by default, else one the clinic allows.

    Any valid ISO 4217 code is not enough: ``XXX``, ``XAU`` or ``USD`` in a NOK
    clinic would make requests no one can pay, book or report.
    """
    allowed = clinic_currencies(clinic)
    if given is None:
        return allowed[0]
    try:
        currency = normalise_currency(given)
    except MoneyError as e:
        raise Invalid("invalid_currency", "currency must be an ISO 4217 code", field="currency") from e
    if currency not in allowed:
        raise Invalid("invalid_currency", f"currency must be one of the clinic's: {', '.join(allowed)}",
                      field="currency")
    return currency


_CONSULT = Ready(select(Consult.__table__).where(Consult.__table__.c.id == bindparam("id")))


def _in_call(claims: JoinClaims, consult: Consult | ConsultRow | None, now: Any) -> Participant:
    if consult is None:
        raise Unauthenticated("bad_token", "The join link is invalid or has expired.")
    if consult.status != "active" or consult.expires_at <= now:
        raise Unauthenticated("consult_ended", "The consultation has ended.")
    return Participant(claims=claims, consult=consult)
