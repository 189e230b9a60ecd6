"""A clinic's side of the payment app: its connected Stripe accounts, which one each
clinician's payments go to, and the platform fee."""
