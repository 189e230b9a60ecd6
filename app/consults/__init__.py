"""Consults: the call a payment is asked for in.

- ``service``: creating, reading and ending consults, and who may join.
- ``tokens``: the signed join tokens for the two panels.
- ``participant``: who is on the other end of a socket.
- ``notifier``: how services tell the people in a call what changed, without
  knowing about Socket.IO.

Their JSON shapes are in :mod:`app.billing.serialisers`, with every other one.
"""
