"""The Stripe request contract: every request the app sends to Stripe, checked
against the parameter definitions the installed ``stripe`` package ships for the
API version it pins."""
