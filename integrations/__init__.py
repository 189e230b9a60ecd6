"""Adapters to the outside services (Stripe, MediPay) and their sandboxes."""
