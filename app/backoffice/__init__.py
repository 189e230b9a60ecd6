"""The back office: what the clinic's staff do after the call.

Owns the two tools of the cash desk (*Kasse*):

- ``cash_desk``: finding bill cards, one card's whole story, and the desk's own actions.
- ``settlement_report`` and ``earnings_report``: the settlement report
  (*Oppgjørsrapport*) and *MediPay earnings*, read from the ledger and the cards.

Reads across :mod:`app.billing`, :mod:`app.collection` and :mod:`app.ledger`;
nothing below imports it.
"""
