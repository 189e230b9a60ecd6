"""Builders for Stripe objects, in the shapes of Stripe's own fixtures.

Only fields the sandbox can give a true value are filled; the rest are the
nulls and empty lists a fresh test-mode object carries.
"""

from __future__ import annotations

from typing import Any

from .store import new_id

ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
    "vuv", "xaf", "xof", "xpf",
}
# Stripe's minimum charge amounts, in minor units.
# Stripe's minimum charge amounts (docs: "Minimum and maximum charge amounts"), minor units.
MINIMUM_AMOUNT = {"usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
                  "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500,
                  "inr": 50, "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200,
                  "ron": 200, "sek": 300, "sgd": 50, "thb": 1000}
COUNTRY_CURRENCY = {"NO": "nok", "SE": "sek", "DK": "dkk", "US": "usd", "GB": "gbp",
                    "DE": "eur", "FI": "eur", "FR": "eur", "NL": "eur", "AU": "aud", "NZ": "nzd"}


def format_amount(minor: int, currency: str) -> str:
    """Minor units for display: 45000, "nok" -> "NOK 450.00"."""
    code = currency.upper()
    if currency.lower() in ZERO_DECIMAL:
        return f"{code} {minor:,}"
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{code} {sign}{whole:,}.{cents:02d}"


def _address() -> dict[str, Any]:
    return {"city": None, "country": None, "line1": None, "line2": None,
            "postal_code": None, "state": None}


def checkout_session(
    *, session_id: str, now: int, params: dict[str, Any], line_items: list[dict[str, Any]],
    currency: str, amount_total: int, url: str, expires_at: int,
) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": None,
        "customer_account": None,
        "customer_creation": "if_required",
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {"enabled": False, "invoice_data": {
            "account_tax_ids": None, "custom_fields": None, "description": None,
            "footer": None, "issuer": None, "metadata": {}, "rendering_options": None}},
        "livemode": False,
        "locale": params.get("locale"),
        "managed_payments": {"enabled": False},
        "metadata": params.get("metadata") or {},
        "mode": params["mode"],
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": url,
        "wallet_options": None,
        "__line_items": line_items,
        "__payment_intent_data": params.get("payment_intent_data") or {},
    }


def line_item(item: dict[str, Any], currency: str, now: int) -> dict[str, Any]:
    pd = item["price_data"]
    unit = pd["unit_amount"]
    qty = item.get("quantity", 1)
    product = pd.get("product_data") or {}
    return {
        "id": new_id("li_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": unit * qty,
        "amount_tax": 0,
        "amount_total": unit * qty,
        "currency": currency,
        "description": product.get("name"),
        "price": {
            "id": new_id("price_"), "object": "price", "active": False,
            "billing_scheme": "per_unit", "created": now, "currency": currency,
            "custom_unit_amount": None, "livemode": False, "lookup_key": None,
            "metadata": {}, "nickname": None, "product": new_id("prod_", 14),
            "recurring": None, "tax_behavior": "unspecified", "tiers_mode": None,
            "transform_quantity": None, "type": "one_time", "unit_amount": unit,
            "unit_amount_decimal": str(unit),
        },
        "quantity": qty,
        "__product_description": product.get("description"),
    }


def payment_intent(
    *, now: int, amount: int, currency: str, pid: dict[str, Any], status: str,
    charge_id: str | None, payment_method: str | None,
) -> dict[str, Any]:
    pi_id = new_id("pi_")
    fee = pid.get("application_fee_amount")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": fee,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": pid.get("capture_method") or "automatic_async",
        "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": now,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": pid.get("description"),
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": charge_id,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": pid.get("metadata") or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                            "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": pid.get("receipt_email"),
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def charge(
    *, charge_id: str, now: int, pi: dict[str, Any], card: dict[str, Any], email: str,
    payment_method: str,
) -> dict[str, Any]:
    amount = pi["amount"]
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "application": None,
        "application_fee": new_id("fee_") if pi.get("application_fee_amount") else None,
        "application_fee_amount": pi.get("application_fee_amount"),
        "balance_transaction": new_id("txn_"),
        "billing_details": {"address": _address(), "email": email, "name": None,
                            "phone": None, "tax_id": None},
        "calculated_statement_descriptor": "CONSULTPAY",
        "captured": True,
        "created": now,
        "currency": pi["currency"],
        "customer": None,
        "description": pi.get("description"),
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi.get("metadata") or {}),
        "on_behalf_of": None,
        "outcome": {"advice_code": None, "network_advice_code": None,
                    "network_decline_code": None, "network_status": "approved_by_network",
                    "reason": None, "risk_level": "normal", "risk_score": 12,
                    "seller_message": "Payment complete.", "type": "authorized"},
        "paid": True,
        "payment_intent": pi["id"],
        "payment_method": payment_method,
        "payment_method_details": {"card": {
            "amount_authorized": amount, "authorization_code": None, "brand": card["brand"],
            "checks": {"address_line1_check": None, "address_postal_code_check": None,
                       "cvc_check": "pass"},
            "country": "US", "exp_month": card["exp_month"], "exp_year": card["exp_year"],
            "extended_authorization": {"status": "disabled"},
            "fingerprint": card["fingerprint"], "funding": "credit",
            "incremental_authorization": {"status": "unavailable"}, "installments": None,
            "last4": card["last4"], "mandate": None,
            "multicapture": {"status": "unavailable"}, "network": card["brand"],
            "network_token": {"used": False}, "network_transaction_id": None,
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated", "three_d_secure": None,
            "transaction_link_id": None, "wallet": None,
        }, "type": "card"},
        "receipt_email": pi.get("receipt_email") or email,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        # Lists carry total_count only when asked for it (include[]=total_count).
        "refunds": {"object": "list", "data": [], "has_more": False,
                    "url": f"/v1/charges/{charge_id}/refunds"},
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(*, now: int, charge: dict[str, Any], amount: int, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("re_"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_"),
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "customer": charge.get("customer"),
        "customer_account": None,
        "destination_details": {"card": {"reference_status": "pending", "reference_type":
                                         "acquirer_reference_number", "type": "refund"},
                                "type": "card"},
        "metadata": params.get("metadata") or {},
        "payment_intent": charge.get("payment_intent"),
        "payment_method": charge.get("payment_method"),
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


REQUIREMENTS_DUE = [
    "business_profile.mcc", "business_profile.url", "external_account",
    "representative.first_name", "representative.last_name", "tos_acceptance.date",
    "tos_acceptance.ip",
]


def requirements(due: list[str], disabled_reason: str | None) -> dict[str, Any]:
    return {"alternatives": [], "current_deadline": None, "currently_due": list(due),
            "disabled_reason": disabled_reason, "errors": [], "eventually_due": list(due),
            "past_due": list(due), "pending_verification": []}


def account(*, now: int, params: dict[str, Any]) -> dict[str, Any]:
    acct_id = new_id("acct_", 16)
    country = (params.get("country") or "NO").upper()
    requested = [name for name, v in (params.get("capabilities") or {}).items()
                 if isinstance(v, dict) and str(v.get("requested")).lower() == "true"]
    if not requested and params.get("type") == "standard":
        requested = ["card_payments", "transfers"]
    bp = {"annual_revenue": None, "estimated_worker_count": None, "mcc": None,
          "minority_owned_business_designation": None, "name": None,
          "product_description": None, "support_address": None, "support_email": None,
          "support_phone": None, "support_url": None, "url": None}
    bp.update(params.get("business_profile") or {})
    acct_type = params.get("type") or "none"
    return {
        "id": acct_id,
        "object": "account",
        "business_profile": bp,
        "business_type": params.get("business_type"),
        "capabilities": {name: "inactive" for name in requested},
        "charges_enabled": False,
        "controller": {"is_controller": True, "type": "application"}
        if acct_type != "standard" else {"type": "account"},
        "country": country,
        "created": now,
        "default_currency": COUNTRY_CURRENCY.get(country, "usd"),
        "details_submitted": False,
        "email": params.get("email"),
        "external_accounts": {"object": "list", "data": [], "has_more": False,
                              "url": f"/v1/accounts/{acct_id}/external_accounts"},
        "future_requirements": requirements([], None),
        "metadata": params.get("metadata") or {},
        "payouts_enabled": False,
        "requirements": requirements(REQUIREMENTS_DUE, "requirements.past_due"),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {"icon": None, "logo": None, "primary_color": None,
                         "secondary_color": None},
            "card_payments": {"decline_on": {"avs_failure": False, "cvc_failure": False},
                              "statement_descriptor_prefix": None,
                              "statement_descriptor_prefix_kana": None,
                              "statement_descriptor_prefix_kanji": None},
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "dashboard": {"display_name": bp.get("name"), "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
            "payments": {"statement_descriptor": None, "statement_descriptor_kana": None,
                         "statement_descriptor_kanji": None, "statement_descriptor_prefix_kana": None,
                         "statement_descriptor_prefix_kanji": None},
            "payouts": {"debit_negative_balances": True,
                        "schedule": {"delay_days": 2, "interval": "daily"},
                        "statement_descriptor": None},
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": acct_type,
    }
