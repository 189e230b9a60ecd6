"""Bill cards: what a patient owes the clinic for one consult, line by line.

Owns the bill card and everything on it:

- ``cards``: a card made from a call, its lines, the patient's and the payer's
  shares, and the payments registered on it.
- ``card_service``: cards made, read and corrected by host or accounting systems;
  ``card_input``: what they send (lines, patient details, the list's filters).
- ``statuses`` and ``transitions``: a card's status codes and which status may
  follow which, as data.
- ``books``: the accounting books (*regnskap*) a card is kept in.
- ``outbox``: a card handed over for collection, written in the same transaction
  that changes the card; :mod:`app.collection.export` empties it.
- ``serialisers``: every JSON shape the services answer with (payment requests
  with their receipt links, refunds, consults), as frozen views and ``as_json``;
  ``card_views``: the bill cards' shapes (the card, the panel's summary, the
  MediPay hand-off's preview). Here, at the bottom of the domain, so
  every service and transport can reach them.

A card never holds money itself: what was paid is read from the ledger's legs.
Collecting what remains through MediPay belongs to :mod:`app.collection`.
"""
