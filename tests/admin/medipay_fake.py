"""A MediPay gateway for admin tests, injected through ``create_app(medipay=...)``.

It answers ``verify_account`` the way the MediPay sandbox does (any username,
the password ``medipay-test``) and can be switched off to play an outage.
"""

from __future__ import annotations

from datetime import datetime

from integrations.medipay.protocol import (
    Account,
    Claim,
    ClaimState,
    Credentials,
    InvalidCredentials,
    ProviderUnavailable,
)

VALID_PASSWORD = "medipay-test"


class FakeMediPay:
    def __init__(self) -> None:
        self.down = False
        self.checked: list[str] = []

    async def verify_account(self, credentials: Credentials) -> Account:
        self.checked.append(credentials.username)
        if self.down:
            raise ProviderUnavailable("MediPay could not be reached: TimeoutError", "unreachable")
        if credentials.password != VALID_PASSWORD:
            raise InvalidCredentials("Wrong username or password.", "invalid_credentials",
                                     "Wrong username or password.")
        return Account(username=credentials.username, status="active", admin_fee_amount=3900)

    async def export_claim(self, credentials: Credentials, claim: Claim) -> ClaimState:
        raise ProviderUnavailable("not part of this fake", "unreachable")

    async def get_claim(self, credentials: Credentials, claim_id: str) -> ClaimState:
        raise ProviderUnavailable("not part of this fake", "unreachable")

    async def list_claims(self, credentials: Credentials, updated_since: datetime) -> list[ClaimState]:
        return []

    async def close(self) -> None:
        return None
