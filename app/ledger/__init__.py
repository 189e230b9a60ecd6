"""The ledger: accounts, transactions and legs, and nothing else (``journal``).

Every movement of money is one transaction of two or more legs that sum to zero,
all in one currency; the database enforces both and refuses updates and deletes,
so a correction is a reversing transaction. Bill cards, payments and MediPay
claims live in their own packages and write here through :mod:`app.ledger.journal`.
"""
