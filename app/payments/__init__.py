"""Payments in the call: what a clinician asks for and how the patient pays it.

Owns the life of a payment request, from the clinician's *Request payment* to money
on the clinic's Stripe account:

- ``requests``: asking for a payment in a consult, and cancelling it.
- ``checkout``: opening Stripe Checkout for the patient, safe to retry after a lost answer.
- ``settlement``: a paid Checkout Session settled into the ledger and onto the bill card.
- ``minimums``: Stripe's smallest charge per currency.
- ``refunds``, ``stripe_refunds`` and ``refund_entries``: refunds asked for anywhere,
  Stripe's word on them (its answers and webhooks), and what they write to the
  ledger and the bill card.
- ``stripe_events``: Stripe's webhooks, each applied exactly once.

A payment request always belongs to one consult and ends on one bill card
(:mod:`app.billing`); the money moves only as legs in :mod:`app.ledger.journal`.
"""
