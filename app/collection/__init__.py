"""Collection through MediPay: what the patient did not pay in the call.

Owns the road from an unpaid bill card to a MediPay claim and back:

- ``fallback``: the call → MediPay hand-over (an SMS/invoice for what is left).
- ``export_checks``: the checks a card must pass before it is handed over.
- ``export``: the exporter that empties the outbox billing fills
  (:mod:`app.billing.outbox`), one claim per card; ``send_now``: *Send til
  betaling*, one card due at once.
- ``claims`` and ``callbacks``: what MediPay says about a claim, pushed to us or
  pulled, applied to its card.
- ``medipay_accounts``, ``book_credentials`` and ``secret_box``: a book's MediPay
  account and its PayEx credentials, encrypted at rest.

Named for what the clinic does (collecting), not ``collections``, which a reader
would take for the standard library's module.
"""
