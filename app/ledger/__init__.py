"""The ledger: bill cards, payments and the double-entry journal."""
