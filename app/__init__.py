"""ConsultPay: in-call payments for video consultations, settled into one ledger."""
