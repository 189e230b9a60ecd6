"""Who is who: organisations, their clinics, API keys, people and their sessions.

- ``organisations``: organisations, clinics and the host platforms' API keys.
- ``people``: users, invitations and who may manage whom.
- ``sessions``: sign-in, admin sessions and the roles they carry.
- ``payment_app``: whether a clinic has the payment app (asked for, approved, rejected).

The clinics' Stripe accounts are in :mod:`app.connect`.
"""
