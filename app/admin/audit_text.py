"""The audit trail in sentences: who did what, with people's names and money formatted for the reader.

Each action code has a short label (the filter's choices) and a sentence with
``%(who)s`` (the person or system that acted), ``%(subject)s`` (the person a
user action was about) and ``%(amount)s`` (money from the entry's details,
formatted in the reader's locale). The stored entry is unchanged; an action
this table does not know is shown by its label-less code, so nothing is hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.admin.labels import REFUND_SOURCES
from app.connect.requirements import STATES
from app.i18n import Translator, format_money
from app.models import AuditEvent

# action → (label, sentence), English msgids.
ACTIONS: dict[str, tuple[str, str]] = {
    "payment.requested": ("Payment requested", "%(who)s asked for a payment of %(amount)s"),
    "payment.cancelled": ("Payment request cancelled", "%(who)s cancelled a payment request of %(amount)s"),
    "payment.refunded": ("Refund", "%(who)s refunded %(amount)s %(source)s (%(total)s refunded in all)"),
    "payment.refund_failed": ("Refund failed", "A refund of %(amount)s failed at Stripe"),
    "bill_card.created": ("Bill card made", "%(who)s made a bill card"),
    "bill_card.updated": ("Bill card changed", "%(who)s changed a bill card"),
    "bill_card.invoiced_by_hand": ("Invoiced by hand", "%(who)s invoiced a bill card by hand"),
    "bill_card.sent_to_payment": ("Sent to payment", "%(who)s sent a bill card to payment"),
    "book.created": ("Book created", "%(who)s created an accounting book"),
    "book.updated": ("Book changed", "%(who)s changed an accounting book"),
    "clinic.created": ("Clinic created", "%(who)s created the clinic %(name)s"),
    "clinic.fee_set": ("Platform fee changed", "%(who)s changed the platform fee"),
    "clinic.manual_office_on": ("Manual office on", "%(who)s turned manual office on"),
    "clinic.manual_office_off": ("Manual office off", "%(who)s turned manual office off"),
    "clinic.time_zone_set": ("Time zone changed", "%(who)s set the clinic's time zone to %(to)s"),
    "clinic.payment_policy_set": ("Payment policy changed",
                                  "%(who)s set the payment policy for new consults to %(policy)s"),
    "clinician_account.set": ("Clinician's Stripe account chosen",
                              "%(who)s chose the Stripe account a clinician's payments go to"),
    "medipay_account.saved": ("MediPay account saved", "%(who)s saved a MediPay account"),
    "medipay_account.verified": ("MediPay account verified", "MediPay accepted a MediPay account"),
    "payment_app.requested": ("Payment app requested", "%(who)s asked for the payment app"),
    "payment_app.approved": ("Payment app turned on", "%(who)s turned the payment app on"),
    "payment_app.rejected": ("Payment app refused", "%(who)s refused the payment app"),
    "stripe_account.created": ("Stripe account created", "%(who)s created the Stripe account %(label)s"),
    "stripe_account.default_set": ("Default Stripe account chosen", "%(who)s made a Stripe account the default"),
    "stripe_account.disconnected": ("Stripe account disconnected", "A Stripe account was disconnected"),
    "stripe_account.edit_started": ("Stripe Dashboard opened", "%(who)s opened a Stripe account's dashboard"),
    "stripe_account.linked": ("Stripe account linked", "A Stripe account was linked"),
    "stripe_account.removed": ("Stripe account removed", "%(who)s removed a Stripe account"),
    "stripe_account.status_changed": ("Stripe account state changed",
                                      "Stripe changed the state of an account from “%(from)s” to “%(to)s”"),
    "user.created": ("User created", "%(who)s created the user %(subject)s"),
    "user.deactivated": ("User deactivated", "%(who)s deactivated %(subject)s"),
    "user.invited": ("User invited", "%(who)s invited a new user"),
    "user.invitation_accepted": ("Invitation accepted", "%(who)s accepted an invitation"),
    "user.clinician_ref_changed": ("Clinician id changed", "%(who)s changed the clinician id of %(subject)s"),
    "user.sign_in_failed": ("Sign-in failed", "A sign-in as %(subject)s failed"),
    "user.signed_in": ("Signed in", "%(who)s signed in"),
    "user.signed_out": ("Signed out", "%(who)s signed out"),
    "vipps_merchant.saved": ("Vipps keys saved",
                             "%(who)s saved the Vipps keys of merchant %(msn)s after Vipps accepted them"),
    "vipps_merchant.verified": ("Vipps keys checked", "%(who)s had Vipps check the keys of merchant %(msn)s"),
    "vipps_merchant.enabled": ("Vipps turned on", "%(who)s turned Vipps on for the clinic"),
    "vipps_merchant.disabled": ("Vipps turned off", "%(who)s turned Vipps off for the clinic"),
    "vipps_merchant.removed": ("Vipps removed", "%(who)s removed Vipps merchant %(msn)s from the clinic"),
}
# A clinic's payment policy in a sentence (``clinic.payment_policy_set``).
POLICY_WORDS = {"in_call": "pay in the call", "before_join": "pay before joining",
                "hold": "a card hold", "card_on_file": "a card on file"}
ACTORS = {"api": "The accounting system", "stripe": "Stripe", "system": "ConsultPay", "medipay": "MediPay"}


def _account_state(status: object, t: Translator) -> str:
    """A Stripe account's status in words (the client payments page's labels)."""
    key = "ready" if status == "enabled" else str(status or "")
    return t.gettext(STATES[key][0]) if key in STATES else str(status or "—")


def _policy_words(details: Mapping[str, Any], t: Translator) -> str:
    """“pay before joining (450,00 kr, Consultation), no-show fee 300,00 kr”, in the reader's language."""
    kind, currency = details.get("to"), details.get("currency")
    words = t.gettext(POLICY_WORDS[kind]) if kind in POLICY_WORDS else str(kind or "—")
    money = {k: format_money(v, currency, t.lang) for k in ("amount", "no_show_fee")
             if isinstance(v := details.get(k), int) and not isinstance(v, bool) and isinstance(currency, str)}
    if "amount" in money:
        words += f" ({money['amount']}, {details.get('description') or ''})"
    if "no_show_fee" in money:
        words += ", " + t.gettext("no-show fee %(fee)s") % {"fee": money["no_show_fee"]}
    return words


def action_label(action: str, t: Translator) -> str:
    return t.gettext(ACTIONS[action][0]) if action in ACTIONS else action


def who(event: AuditEvent, t: Translator, users: Mapping[str, str], clinicians: Mapping[str, str]) -> str:
    """The actor's name: a user's, a clinician's (by their id in consults), or the system that acted."""
    if event.actor_type == "user" and event.actor_id in users:
        return users[event.actor_id]
    if event.actor_type == "clinician":
        return clinicians.get(event.actor_id or "") or t.gettext("The clinician")
    if event.actor_type == "patient":
        return t.gettext("The patient")
    return t.gettext(ACTORS.get(event.actor_type, "Someone"))


def sentence(event: AuditEvent, t: Translator, users: Mapping[str, str], clinicians: Mapping[str, str]) -> str:
    """One entry as a sentence in the reader's language; an unknown action as its label and actor."""
    details: dict[str, Any] = event.details if isinstance(event.details, dict) else {}
    values: dict[str, str] = {"who": who(event, t, users, clinicians)}
    amount, currency = details.get("amount"), details.get("currency")
    if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str):
        values["amount"] = format_money(amount, currency, t.lang)
    source = details.get("source")
    values["source"] = t.gettext(REFUND_SOURCES[source]) if source in REFUND_SOURCES else ""
    values["subject"] = users.get(event.subject_id, "") if event.subject_type == "user" else ""
    values["name"] = str(details.get("name") or "")
    values["label"] = str(details.get("label") or "")
    values["msn"] = str(details.get("merchant_serial_number") or "")
    total = details.get("refunded_amount")
    if isinstance(total, int) and not isinstance(total, bool) and isinstance(currency, str):
        values["total"] = format_money(total, currency, t.lang)
    if event.action == "stripe_account.status_changed":
        values["from"], values["to"] = (_account_state(details.get(k), t) for k in ("from", "to"))
    else:
        values["to"] = str(details.get("to") or "")
    if event.action == "clinic.payment_policy_set":
        values["policy"] = _policy_words(details, t)
    if event.action not in ACTIONS:
        return f"{values['who']}: {event.action}"
    text = t.gettext(ACTIONS[event.action][1])
    for key in ("amount", "total", "from"):
        values.setdefault(key, "—")
    try:
        return (text % values).replace("  ", " ").strip()
    except (KeyError, ValueError):
        return text
