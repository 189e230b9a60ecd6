"""What Stripe says of a connected account, read the way Stripe means it.

Two readings of one ``account`` object:

``stored_status``   the row's ``status`` column, which payments route on
                    (only ``enabled`` takes payments)::

        charges_enabled                                   enabled
        disabled_reason rejected.*                        rejected
        disabled_reason under_review, or
          requirements.pending_verification               under_review
        details not submitted yet                         pending
        anything else that stops charges (past due, …)    restricted

``account_state``   what the admin is shown, finer than the column: an enabled
                    account may have its payouts paused, or owe details by a
                    deadline while it still takes payments.

Stripe names what it still needs by field path (``business_profile.mcc``,
``individual.verification.document``, ``person_1AbC.dob.day``); ``needs`` turns
those into plain phrases (English msgids, translated at the edge), one per
thing, never the raw path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations.stripe.protocol import ConnectedAccount

# The state the admin sees → (label, what it means for payments). English msgids.
STATES: dict[str, tuple[str, str]] = {
    "ready": ("Linked and able to take payments", "Payments and payouts are on."),
    "payouts_paused": (
        "Payouts paused",
        "Payments are taken, but Stripe holds the payouts until it has the details below.",
    ),
    "details_due": (
        "Stripe needs more details",
        "Payments are taken for now. Give Stripe the details below before the deadline, or payments stop.",
    ),
    "pending": ("Pending details", "Finish the setup on Stripe to take payments."),
    "restricted": (
        "Payments paused: Stripe needs more details",
        "Stripe has paused payments on this account until it has the details below.",
    ),
    "under_review": (
        "Under review by Stripe",
        "Stripe is checking the details given. Nothing is needed from you now; payments start when Stripe is done.",
    ),
    "rejected": (
        "Rejected by Stripe",
        "Stripe will not take payments on this account. Contact Stripe support, or link another account.",
    ),
    "disconnected": ("Disconnected", "The account left the platform. Link it again to take payments."),
    "removed": ("Removed", "No new payment requests use this account."),
}

# A requirement path's prefix → the plain phrase for it. Longest prefix wins.
PHRASES: dict[str, str] = {
    "business_profile.url": "business website",
    "business_profile.mcc": "type of business (industry)",
    "business_profile.product_description": "description of what the business sells",
    "business_profile.support_phone": "customer support phone number",
    "business_profile.support_email": "customer support email",
    "business_profile.name": "business name",
    "business_profile": "business details",
    "business_type": "type of business (company, sole trader, …)",
    "external_account": "bank account for payouts",
    "tos_acceptance": "acceptance of Stripe's terms of service",
    "settings.payments.statement_descriptor": "text shown on customers' card statements",
    "company.tax_id": "company's registration or tax number",
    "company.verification.document": "document verifying the company",
    "company.address": "company's address",
    "company.phone": "company's phone number",
    "company.name": "company's registered name",
    "company.owners_provided": "confirmation of the company's owners",
    "company.directors_provided": "confirmation of the company's directors",
    "company.executives_provided": "confirmation of the company's executives",
    "company": "company details",
    "representative.verification.document": "identity document of the representative",
    "representative.verification.additional_document": "proof of address of the representative",
    "representative.address": "address of the representative",
    "representative.dob": "date of birth of the representative",
    "representative.id_number": "national identity number of the representative",
    "representative.relationship": "role of the representative in the business",
    "representative": "personal details of the representative",
    "individual.verification.document": "identity document of the account holder",
    "individual.verification.additional_document": "proof of address of the account holder",
    "individual.address": "address of the account holder",
    "individual.dob": "date of birth of the account holder",
    "individual.id_number": "national identity number of the account holder",
    "individual": "personal details of the account holder",
    "owners": "details of the business's owners",
    "directors": "details of the business's directors",
    "executives": "details of the business's executives",
    "person_": "details of a person in the business",
}
UNKNOWN = "other details Stripe asks for"

# requirements.errors[].code families → a plain reason (msgids).
ERROR_REASONS: dict[str, str] = {
    "verification_document": "the document could not be verified",
    "verification_failed": "the details could not be verified",
    "invalid": "the value given is not valid",
    "verification_missing": "something is missing",
}
UNKNOWN_ERROR = "Stripe could not accept what was given"


def phrase(requirement: str) -> str:
    """The plain phrase for one requirement path (an msgid; a generic one for paths we do not know)."""
    best = ""
    for prefix in PHRASES:
        if (requirement == prefix or requirement.startswith(prefix + ".") or (
            prefix.endswith("_") and requirement.startswith(prefix)
        )) and len(prefix) > len(best):
            best = prefix
    return PHRASES[best] if best else UNKNOWN


def phrases(requirements: list[str]) -> list[str]:
    """Each thing once, in Stripe's order."""
    seen: list[str] = []
    for req in requirements:
        p = phrase(req)
        if p not in seen:
            seen.append(p)
    return seen


def error_reason(code: str) -> str:
    for family, reason in ERROR_REASONS.items():
        if code.startswith(family):
            return reason
    return UNKNOWN_ERROR


def stored_status(account: ConnectedAccount) -> str:
    """The ``status`` column for Stripe's account (see the module docstring)."""
    reason = account.disabled_reason or ""
    if account.charges_enabled:
        return "enabled"
    if reason.startswith("rejected"):
        return "rejected"
    if reason in ("under_review", "requirements.pending_verification") or (
        account.pending_verification and not account.requirements_due and not account.past_due
    ):
        return "under_review"
    if not account.details_submitted:
        return "pending"
    return "restricted"


@dataclass(frozen=True)
class Needs:
    """What the page shows of an account beyond its row: Stripe's requirements in plain words."""

    state: str
    now: list[str] = field(default_factory=list)  # currently due (past due first)
    later: list[str] = field(default_factory=list)  # eventually due, not yet now
    checking: list[str] = field(default_factory=list)  # pending verification
    problems: list[tuple[str, str]] = field(default_factory=list)  # (thing, reason)
    deadline: int | None = None
    disabled_reason: str | None = None


def account_state(status: str, account: ConnectedAccount | None, *, payouts_enabled: bool) -> str:
    """The state shown: the row's status, refined by Stripe's account when it was just retrieved."""
    if status != "enabled":
        return status
    if not payouts_enabled:
        return "payouts_paused"
    if account is not None and (account.requirements_due or account.past_due):
        return "details_due"
    return "ready"


def needs_of(status: str, account: ConnectedAccount, *, payouts_enabled: bool) -> Needs:
    due = list(dict.fromkeys([*account.past_due, *account.requirements_due]))
    now = phrases(due)
    return Needs(
        state=account_state(status, account, payouts_enabled=payouts_enabled),
        now=now,
        later=[p for p in phrases(account.eventually_due) if p not in now],
        checking=phrases(account.pending_verification),
        problems=[(phrase(e.requirement), error_reason(e.code)) for e in account.errors],
        deadline=account.current_deadline,
        disabled_reason=account.disabled_reason,
    )
