"""Sign-in under attack: attempts counted before the password is checked, per account and per address."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from app.accounts.sessions import MAX_ADDRESS_FAILURES, MAX_FAILURES
from tests.admin.factories import PASSWORD, AdminClient, make_user
from tests.conftest import make_settings, start_live
from tests.factories import Live


async def burst(browser: AdminClient, attempts: list[tuple[str, str]]) -> Counter[int]:
    """POST every (email, password) at once from one browser; the statuses, counted."""
    page = await browser.get("/admin/sign-in")
    assert page.status == 200 and browser.csrf_token

    async def one(email: str, password: str) -> int:
        reply = await browser.post("/admin/sign-in", {"email": email, "password": password})
        return reply.status

    return Counter(await asyncio.gather(*(one(e, p) for e, p in attempts)))


async def test_twenty_wrong_passwords_at_once_get_at_most_the_limit_of_401s(live: Live) -> None:
    user = await make_user(live, "team_member")
    async with AdminClient(live.url) as browser:
        statuses = await burst(browser, [(user.email, f"wrong {i}") for i in range(20)])
    assert statuses[401] == MAX_FAILURES and statuses[429] == 20 - MAX_FAILURES, statuses
    async with AdminClient(live.url) as browser:
        assert (await browser.sign_in(user.email)).status == 429  # the right password waits too


async def test_the_limit_holds_on_postgresql_too(live_pg: Live) -> None:
    user = await make_user(live_pg, "team_member")
    async with AdminClient(live_pg.url) as browser:
        statuses = await burst(browser, [(user.email, f"wrong {i}") for i in range(20)])
    assert statuses[401] == MAX_FAILURES and statuses[429] == 20 - MAX_FAILURES, statuses


async def test_one_address_trying_many_accounts_is_limited(live: Live) -> None:
    user = await make_user(live, "team_member")
    guesses = [(f"guess{i}@example.test", "password1") for i in range(MAX_ADDRESS_FAILURES + 10)]
    async with AdminClient(live.url) as browser:
        statuses = await burst(browser, guesses)
        assert statuses[401] == MAX_ADDRESS_FAILURES and statuses[429] == 10, statuses
        # Every account is closed to this address for now, even with its right password.
        assert (await browser.sign_in(user.email)).status == 429


async def test_a_successful_sign_in_is_not_counted_as_a_failure(live: Live) -> None:
    user = await make_user(live, "team_member")
    # In rounds: attempts still being checked count, so a round stays within the account's limit.
    for _ in range(MAX_ADDRESS_FAILURES // MAX_FAILURES + 1):
        async with AdminClient(live.url) as browser:
            statuses = await burst(browser, [(user.email, PASSWORD)] * MAX_FAILURES)
        assert statuses == {303: MAX_FAILURES}
    async with AdminClient(live.url) as browser:
        assert (await browser.sign_in(user.email, "wrong")).status == 401


async def test_two_web_processes_racing_share_one_count(tmp_path: Path) -> None:
    first, first_runner = await start_live(make_settings(tmp_path))
    second, second_runner = await start_live(make_settings(tmp_path))  # the same database file
    try:
        user = await make_user(first, "team_member")
        async with AdminClient(first.url) as a, AdminClient(second.url) as b:
            counts = await asyncio.gather(
                burst(a, [(user.email, "wrong")] * 10), burst(b, [(user.email, "wrong")] * 10)
            )
        total = counts[0] + counts[1]
        assert total[401] == MAX_FAILURES and total[429] == 20 - MAX_FAILURES, total
    finally:
        for live, runner in ((first, first_runner), (second, second_runner)):
            await live.close()
            await runner.cleanup()


async def _exhaust_address(live: Live, forwarded_for: str) -> None:
    guesses = [(f"guess{i}@example.test", "password1") for i in range(MAX_ADDRESS_FAILURES)]
    async with AdminClient(live.url) as browser:
        browser.http.headers["X-Forwarded-For"] = forwarded_for
        statuses = await burst(browser, guesses)
    assert statuses[401] == MAX_ADDRESS_FAILURES, statuses


async def _sign_in_status(live: Live, email: str, forwarded_for: str) -> int:
    async with AdminClient(live.url) as browser:
        browser.http.headers["X-Forwarded-For"] = forwarded_for
        return (await browser.sign_in(email)).status


async def test_behind_a_trusted_proxy_each_browser_address_has_its_own_count(tmp_path: Path) -> None:
    # Every browser reaches us through the proxy at 127.0.0.1: counting the proxy's address
    # would lock every user out as soon as one address guessed too often.
    live, runner = await start_live(make_settings(tmp_path, TRUSTED_PROXIES="127.0.0.1"))
    try:
        user = await make_user(live, "team_member")
        await _exhaust_address(live, "203.0.113.5")
        assert await _sign_in_status(live, user.email, "203.0.113.5") == 429
        assert await _sign_in_status(live, user.email, "198.51.100.7") == 303
        # What the client wrote before the proxy's own entry is not believed.
        assert await _sign_in_status(live, user.email, "198.51.100.7, 203.0.113.5") == 429
    finally:
        await live.close()
        await runner.cleanup()


async def test_without_trusted_proxies_x_forwarded_for_is_ignored(live: Live) -> None:
    user = await make_user(live, "team_member")
    await _exhaust_address(live, "203.0.113.5")
    # Writing another address into the header does not get round the limit.
    assert await _sign_in_status(live, user.email, "198.51.100.7") == 429
