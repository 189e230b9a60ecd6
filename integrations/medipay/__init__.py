"""MediPay, PayEx's collection service: the protocol, an HTTP client and a sandbox."""
