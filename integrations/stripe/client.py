"""The Stripe gateway on the official SDK: real Stripe, or any Stripe-compatible
server (the built-in sandbox) by changing only the base address."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import stripe

from integrations.errors import SignatureError
from integrations.stripe.protocol import (
    AccountLink,
    CheckoutSession,
    ConnectedAccount,
    NewCheckout,
    PaymentIntent,
    Refund,
)
from integrations.stripe.saved_cards_client import SavedCardCalls
from integrations.stripe.sdk_errors import ACCOUNT_CODES, _mapped_errors, _options, _wrap

__all__ = ["ACCOUNT_CODES", "CHECKOUT_LOCALES", "StripeSDKGateway", "split_secrets", "verify_signature", "_wrap"]

WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe's Checkout locales that match ours; anything else lets Stripe choose.
CHECKOUT_LOCALES = {"nb": "nb", "en": "en", "sv": "sv"}


def split_secrets(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A comma-separated list of signing secrets (several during a roll), blanks dropped."""
    items = value.split(",") if isinstance(value, str) else (value or ())
    return tuple(item.strip() for item in items if item.strip())


def _signed_at(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            return int(value)
    raise ValueError("no timestamp")


def verify_signature(payload: bytes, header: str | None, secrets: Sequence[str], *,
                     tolerance: int = WEBHOOK_TOLERANCE_SECONDS) -> None:
    """Raise ``SignatureError`` unless one of ``secrets`` signed ``payload`` within ``tolerance``.

    While a secret is rolled, Stripe signs each event once per live secret
    (several ``v1`` in the header) and the endpoint holds the old and the new
    secret; any one pair that matches is enough. The SDK only refuses a
    timestamp too far in the past; one too far in the future is refused here
    as well, so a signature made ahead of time cannot be kept and replayed.
    """
    if not header:
        raise SignatureError("webhook has no Stripe-Signature header", "bad_signature")
    try:
        text = payload.decode("utf-8")
        signed_at = _signed_at(header)
    except (UnicodeDecodeError, ValueError) as e:
        raise SignatureError("webhook signature could not be verified", "bad_signature") from e
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        if signed_at > time.time() + tolerance:
            raise SignatureError("webhook signature is timestamped in the future", "bad_signature")
        return
    raise SignatureError("webhook signature could not be verified", "bad_signature")


class StripeSDKGateway(SavedCardCalls):
    def __init__(self, *, api_key: str, webhook_secret: str | Sequence[str],
                 connect_webhook_secret: str | Sequence[str] | None = None,
                 api_base: str | None = None) -> None:
        secrets = {"account": split_secrets(webhook_secret), "connect": split_secrets(connect_webhook_secret)}
        if not secrets["account"]:
            raise ValueError("a webhook secret is required to verify Stripe's webhooks")
        self._webhook_secrets = secrets
        self._http = stripe.AIOHTTPClient(timeout=20)
        base = {"api": api_base, "connect": api_base} if api_base else None
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base,  # type: ignore[arg-type]
            http_client=self._http,
            max_network_retries=2,
        )

    async def close(self) -> None:
        await self._http.close_async()

    async def create_checkout_session(self, new: NewCheckout) -> CheckoutSession:
        params: dict[str, Any] = {
            "mode": new.mode,
            "success_url": new.success_url,
            "cancel_url": new.cancel_url,
            "client_reference_id": new.reference,
            "metadata": new.metadata,
            "expires_at": new.expires_at,
        }
        if new.locale in CHECKOUT_LOCALES:
            params["locale"] = CHECKOUT_LOCALES[new.locale]
        if new.mode == "setup":
            # A card saved to the Customer for later; Checkout's dynamic payment methods need the currency.
            params.update(currency=new.currency.lower(), customer=new.customer,
                          setup_intent_data={"metadata": new.metadata, "description": new.description})
        else:
            params["line_items"] = [{
                "quantity": 1,
                "price_data": {"currency": new.currency.lower(), "unit_amount": new.amount,
                               "product_data": {"name": new.description}},
            }]
            params["payment_intent_data"] = {"metadata": new.metadata, "description": new.description}
            if new.customer_email:
                params["customer_email"] = new.customer_email
                params["payment_intent_data"]["receipt_email"] = new.customer_email
            if new.application_fee_amount > 0:
                # Only on a direct charge: Stripe refuses a fee without a connected account.
                params["payment_intent_data"]["application_fee_amount"] = new.application_fee_amount
            if new.capture_method == "manual":
                # A hold: the card is authorised at Checkout and captured (or released) later.
                params["payment_intent_data"]["capture_method"] = "manual"
        options = _options(new.account, new.idempotency_key)
        with _mapped_errors():
            session = await self._client.v1.checkout.sessions.create_async(params, options)  # type: ignore[arg-type]
        return CheckoutSession.from_stripe(session)

    async def retrieve_checkout_session(self, session_id: str, *, account: str | None) -> CheckoutSession:
        options = _options(account)
        with _mapped_errors():
            session = await self._client.v1.checkout.sessions.retrieve_async(session_id, options=options)  # type: ignore[arg-type]
        return CheckoutSession.from_stripe(session)

    async def expire_checkout_session(self, session_id: str, *, account: str | None) -> CheckoutSession:
        options = _options(account)
        with _mapped_errors():
            session = await self._client.v1.checkout.sessions.expire_async(session_id, options=options)  # type: ignore[arg-type]
        return CheckoutSession.from_stripe(session)

    async def create_account(self, *, email: str, country: str, name: str, idempotency_key: str) -> ConnectedAccount:
        params: dict[str, Any] = {
            "type": "express",
            "country": country,
            "email": email,
            "business_profile": {"name": name},
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        }
        with _mapped_errors():
            account = await self._client.v1.accounts.create_async(params, {"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        return ConnectedAccount.from_stripe(account)

    async def retrieve_account(self, account_id: str) -> ConnectedAccount:
        with _mapped_errors():
            account = await self._client.v1.accounts.retrieve_async(account_id)
        return ConnectedAccount.from_stripe(account)

    async def update_account(self, account_id: str, *, metadata: dict[str, str]) -> ConnectedAccount:
        with _mapped_errors():
            account = await self._client.v1.accounts.update_async(account_id, {"metadata": metadata})
        return ConnectedAccount.from_stripe(account)

    async def delete_account(self, account_id: str) -> None:
        with _mapped_errors():
            await self._client.v1.accounts.delete_async(account_id)

    async def create_account_link(self, *, account: str, refresh_url: str, return_url: str, type: str) -> AccountLink:
        params: dict[str, Any] = {
            "account": account,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": type,
        }
        with _mapped_errors():
            link = await self._client.v1.account_links.create_async(params)  # type: ignore[arg-type]
        return AccountLink(url=link.url, expires_at=int(link.expires_at))

    async def create_login_link(self, account: str) -> str:
        with _mapped_errors():
            link = await self._client.v1.accounts.login_links.create_async(account)
        return str(link.url)

    async def create_refund(
        self,
        *,
        account: str | None,
        payment_intent_id: str,
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Refund:
        params: dict[str, Any] = {"payment_intent": payment_intent_id, "metadata": metadata}
        if amount is not None:
            params["amount"] = amount
        if reason:
            params["reason"] = reason
        options = _options(account, idempotency_key)
        with _mapped_errors():
            refund = await self._client.v1.refunds.create_async(params, options)  # type: ignore[arg-type]
        return Refund.from_stripe(refund)

    async def retrieve_refund(self, refund_id: str, *, account: str | None) -> Refund:
        options = _options(account)
        with _mapped_errors():
            refund = await self._client.v1.refunds.retrieve_async(refund_id, options=options)  # type: ignore[arg-type]
        return Refund.from_stripe(refund)

    async def retrieve_payment_intent(self, pi_id: str, *, account: str | None) -> PaymentIntent:
        """The PaymentIntent with its latest charge expanded (for a hold's ``capture_before``)."""
        options = _options(account)
        with _mapped_errors():
            intent = await self._client.v1.payment_intents.retrieve_async(
                pi_id, {"expand": ["latest_charge"]}, options)  # type: ignore[arg-type]
        return PaymentIntent.from_stripe(intent)

    async def capture_payment_intent(
        self,
        pi_id: str,
        *,
        account: str | None,
        amount_to_capture: int,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
        application_fee_amount: int | None = None,
    ) -> PaymentIntent:
        """Capture ``amount_to_capture`` of a hold; Stripe releases the rest of the authorisation."""
        params: dict[str, Any] = {"amount_to_capture": amount_to_capture, "expand": ["latest_charge"]}
        if metadata:
            params["metadata"] = metadata
        if application_fee_amount is not None:
            # The platform's fee on what is captured (a direct charge's fee is set per capture).
            params["application_fee_amount"] = application_fee_amount
        options = _options(account, idempotency_key)
        with _mapped_errors():
            intent = await self._client.v1.payment_intents.capture_async(pi_id, params, options)  # type: ignore[arg-type]
        return PaymentIntent.from_stripe(intent)

    async def cancel_payment_intent(
        self,
        pi_id: str,
        *,
        account: str | None,
        idempotency_key: str,
        cancellation_reason: str | None = None,
    ) -> PaymentIntent:
        """Release a hold: nothing is captured, the whole authorisation goes back to the card."""
        params: dict[str, Any] = {"expand": ["latest_charge"]}
        if cancellation_reason:
            params["cancellation_reason"] = cancellation_reason
        options = _options(account, idempotency_key)
        with _mapped_errors():
            intent = await self._client.v1.payment_intents.cancel_async(pi_id, params, options)  # type: ignore[arg-type]
        return PaymentIntent.from_stripe(intent)

    def verify_webhook(self, payload: bytes, signature: str | None, *, endpoint: str = "account") -> dict[str, Any]:
        """Check ``Stripe-Signature`` against the raw body with the secrets of
        ``endpoint``; return the event as a dict.

        Stripe sends the ``account`` endpoint the events of the platform's own
        account and the ``connect`` endpoint those of its connected accounts,
        each signed with that endpoint's secret. An endpoint without a
        configured secret verifies nothing.
        """
        verify_signature(payload, signature, self._webhook_secrets.get(endpoint, ()))
        try:
            event = json.loads(payload)
        except ValueError as e:
            raise SignatureError("webhook body is not JSON", "bad_event") from e
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            raise SignatureError("webhook body is not a Stripe event", "bad_event")
        return event
