"""What the Stripe, MediPay and Vipps sandboxes share, so each keeps only its provider's rules.

- ``store``: the SQLite row store's base — the file made private, WAL when
  shared, one lock, ``BEGIN IMMEDIATE`` transactions, and the sandbox clock
  (the injected clock plus every control advance) — ``RowStore``, the rows by
  kind, owner and due time the Vipps and MediPay sandboxes keep, and
  ``new_id``/``public``.
- ``delivery``: signed events delivered at least once — one POST attempt,
  exponential backoff until ``max_attempts``, and the sender's life cycle
  (start, wake, stop) with its misbehaviour settings kept in the store.
- ``app``: the aiohttp set-up every sandbox has: start the sender, run a
  periodic task (expiry, deadlines), and stop both and close the store on exit.
- ``cli``: ``python -m integrations.<provider>.sandbox --port N``: bind, serve,
  print where, run until interrupted.

What a provider sends, how it signs it, and which rules its objects follow
stay in that provider's sandbox package.
"""
