"""Where a clinic is: the currencies it may take, its country, and that country's time zone.

A clinic's currency decides the country its Stripe account is opened in
(Stripe: an account settles in its country's currency), and that country the
time zone its dates are shown in unless the clinic sets another. Norway first:
a clinic created without saying otherwise is a Norwegian one. A platform in
Norway may open Express accounts in Australia (Stripe: "Platforms in ... Norway
... can create Express accounts for most countries Stripe supports"); the
charges are direct charges on the clinic's account, so no cross-border payout
is involved.
"""

from __future__ import annotations

# The currencies a new clinic may choose, each with the country its Stripe account is opened in.
# EUR clinics are Finnish: the one euro country among the Nordic peers we serve.
COUNTRY_BY_CURRENCY: dict[str, str] = {"NOK": "NO", "SEK": "SE", "DKK": "DK", "EUR": "FI", "AUD": "AU"}
CURRENCIES: tuple[str, ...] = tuple(COUNTRY_BY_CURRENCY)

# IANA zones; a country with several (Australia) gets its most populous one.
ZONE_BY_COUNTRY: dict[str, str] = {
    "NO": "Europe/Oslo",
    "SE": "Europe/Stockholm",
    "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki",
    "AU": "Australia/Sydney",
}
DEFAULT_COUNTRY = "NO"
DEFAULT_ZONE = ZONE_BY_COUNTRY[DEFAULT_COUNTRY]


def country_for_currency(currency: str) -> str:
    """The country a clinic taking ``currency`` is in: ``"AUD"`` → ``"AU"``; unknown → Norway."""
    return COUNTRY_BY_CURRENCY.get(currency.upper(), DEFAULT_COUNTRY)


def default_zone_for_country(country: str) -> str:
    """The time zone a new clinic in ``country`` gets: ``"AU"`` → ``"Australia/Sydney"``; unknown → Oslo."""
    return ZONE_BY_COUNTRY.get(country.upper(), DEFAULT_ZONE)


def default_zone_for_currency(currency: str) -> str:
    """``default_zone_for_country`` of the clinic's country, for a clinic known by its currency."""
    return default_zone_for_country(country_for_currency(currency))
