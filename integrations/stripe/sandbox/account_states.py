"""Accounts in each state Stripe can put them in, for tests and demos to drive.

Stripe decides an account's state from its review of the details given; the
sandbox has no review, so the control surface sets the outcome and the account
changes as Stripe's would, with ``account.updated``.
"""

from __future__ import annotations

from typing import Any

from . import objects
from .connect import RESTRICTED_DUE
from .context import Sandbox
from .errors import invalid_param, resource_missing
from .store import PLATFORM, acts_for_owner

STATES = ("past_due", "due_soon", "payouts_paused", "pending_verification", "under_review",
          "rejected")
REJECTED = ("rejected.fraud", "rejected.incomplete_verification", "rejected.listed", "rejected.other",
            "rejected.terms_of_service", "rejected.platform_fraud", "rejected.platform_other",
            "rejected.platform_terms_of_service")
DUE_SOON_S = 14 * 86400


@acts_for_owner
def set_state(sb: Sandbox, acct_id: str, state: str, *, due: list[str] | None = None,
              deadline: int | None = None, reason: str | None = None,
              errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Put an account where Stripe can put one, and send ``account.updated``.

    past_due              requirements past their deadline: charges and payouts off
    due_soon              more is needed by ``current_deadline``; until then all works
    payouts_paused        charges on, payouts off until a requirement is met
    pending_verification  Stripe is checking what was given: charges off meanwhile
    under_review          Stripe is reviewing the account: charges and payouts off
    rejected              Stripe rejected the account (``reason``: one of ``rejected.*``)
    """
    if state not in STATES:
        raise invalid_param("state", f"state must be one of {', '.join(STATES)}")
    if reason is not None and state == "rejected" and reason not in REJECTED:
        raise invalid_param("reason", f"reason must be one of {', '.join(REJECTED)}")
    acct = sb.store.get("account", acct_id)
    if acct is None:
        raise resource_missing("account", acct_id, "account")
    now = sb.store.now()
    previous = {"charges_enabled": acct["charges_enabled"], "payouts_enabled": acct["payouts_enabled"],
                "requirements": acct["requirements"]}
    needed = list(due if due is not None else RESTRICTED_DUE)
    req = objects.requirements([], None)
    charges = payouts = False
    if state == "past_due":
        req = objects.requirements(needed, "requirements.past_due")
    elif state == "due_soon":
        charges = payouts = True
        req.update(currently_due=needed, eventually_due=needed,
                   current_deadline=deadline or now + DUE_SOON_S)
    elif state == "payouts_paused":
        charges = True
        needed = list(due if due is not None else ["external_account"])
        req.update(currently_due=needed, eventually_due=needed, past_due=needed)
    elif state == "pending_verification":
        req.update(pending_verification=needed, disabled_reason="requirements.pending_verification")
    elif state == "under_review":
        req.update(disabled_reason="under_review")
    else:
        req.update(disabled_reason=reason or "rejected.other")
    if errors:
        req["errors"] = [{"code": str(e.get("code") or "verification_failed_other"),
                          "reason": str(e.get("reason") or "The information could not be verified."),
                          "requirement": str(e.get("requirement") or "")} for e in errors]
        for e in req["errors"]:
            if e["requirement"] and e["requirement"] not in req["currently_due"]:
                req["currently_due"].append(e["requirement"])
    acct.update(charges_enabled=charges, payouts_enabled=payouts, details_submitted=True,
                requirements=req)
    acct["capabilities"] = {name: "active" if charges else "inactive"
                            for name in acct["capabilities"]}
    if "transfers" in acct["capabilities"]:
        acct["capabilities"]["transfers"] = "active" if payouts else "inactive"
    with sb.store.transaction():
        sb.store.put("account", acct, PLATFORM)
        sb.webhooks.emit("account.updated", acct, account=acct_id, previous_attributes=previous)
    return acct
