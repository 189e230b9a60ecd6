"""The gateway's calls for saved cards (``integrations/stripe/saved_cards.py``) on the official SDK:
a Customer, a SetupIntent looked up, and an off-session charge."""

from __future__ import annotations

from typing import Any

import stripe

from integrations.stripe.protocol import PaymentIntent
from integrations.stripe.saved_cards import SavedCardCharge, SavedCardDeclined, SetupIntent
from integrations.stripe.sdk_errors import _mapped_errors, _options, _wrap


class SavedCardCalls:
    """Mixed into ``StripeSDKGateway``, whose SDK client is ``_client``."""

    _client: stripe.StripeClient

    async def create_customer(self, *, account: str | None, email: str | None, name: str | None,
                              metadata: dict[str, str], idempotency_key: str) -> str:
        """A Customer on the clinic's account for the patient's saved card; its id."""
        params: dict[str, Any] = {"metadata": metadata}
        if email:
            params["email"] = email
        if name:
            params["name"] = name
        with _mapped_errors():
            customer = await self._client.v1.customers.create_async(
                params, _options(account, idempotency_key))  # type: ignore[arg-type]
        return str(customer.id)

    async def retrieve_setup_intent(self, setup_intent_id: str, *, account: str | None) -> SetupIntent:
        with _mapped_errors():
            intent = await self._client.v1.setup_intents.retrieve_async(
                setup_intent_id, options=_options(account))  # type: ignore[arg-type]
        return SetupIntent.from_stripe(intent)

    async def charge_saved_card(self, charge: SavedCardCharge) -> PaymentIntent:
        """Charge the saved card now, its holder away; ``SavedCardDeclined`` when the bank says no."""
        params: dict[str, Any] = {
            "amount": charge.amount, "currency": charge.currency.lower(), "customer": charge.customer,
            "payment_method": charge.payment_method, "off_session": True, "confirm": True,
            "description": charge.description, "metadata": charge.metadata,
        }
        if charge.application_fee_amount > 0:
            params["application_fee_amount"] = charge.application_fee_amount
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, _options(charge.account, charge.idempotency_key))  # type: ignore[arg-type]
        except stripe.CardError as e:
            raise _declined(e) from e
        except stripe.StripeError as e:
            raise _wrap(e) from e
        return PaymentIntent.from_stripe(intent)


def _declined(error: stripe.CardError) -> SavedCardDeclined:
    body = getattr(error, "error", None)
    pi = getattr(body, "payment_intent", None)
    return SavedCardDeclined(
        error.user_message or str(error), error.code or "card_declined", str(error),
        decline_code=getattr(body, "decline_code", None) or None,
        intent=PaymentIntent.from_stripe(pi) if pi else None,
    )
