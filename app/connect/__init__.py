"""Stripe Connect: a clinic's connected Stripe accounts, which one each clinician's
payments go to, and the platform fee; and the clinic's Vipps MobilePay merchant.

- ``stripe_accounts``: *Configure > Client payments*, linking, editing, removing.
- ``linking``: going to Stripe and back (Account Links, the Express Dashboard).
- ``account_status`` and ``requirements``: an account's state, read the way Stripe means it.
- ``events``: Connect webhooks about the accounts.
- ``routing``: which account a payment request goes to, and the fee on it.
- ``stripe_errors``: what the admin is told when Stripe says no.
- ``vipps_merchants``: *Client payments > Vipps*, the clinic's merchant and its keys, checked
  with Vipps before they are saved, sealed, on or off.
"""
