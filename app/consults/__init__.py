"""Consults, their join tokens and the payment requests made in them."""
