"""The back office: what the clinic's staff do after the call.

Owns the two tools of the cash desk (*Kasse*):

- ``cash_desk``: finding bill cards, one card's whole story, and the desk's own actions.
- ``reports`` and ``report_queries``: the settlement report (*Oppgjørsrapport*)
  and *MediPay earnings*, and the periods and filters they are asked for.

Reads across :mod:`app.billing`, :mod:`app.collection` and :mod:`app.ledger`;
nothing below imports it.
"""
