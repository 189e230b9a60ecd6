"""Receipts and credit notes: numbered sales documents that outlive the call.

Each in-call payment gets a receipt, each refund a credit note, numbered from
one sequence per organisation (``numbering``), in the transaction that
settles the payment or posts the refund. A document is shown from an
unguessable link of its own — not the join token — for as long as it must be
kept (``documents``), and as PDF (``pdf``).
"""
