"""Vipps MobilePay: the ePayment, Access Token, Webhooks and Order Management APIs, and a sandbox."""
