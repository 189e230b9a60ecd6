"""The ``stripe`` requirement in pyproject.toml admits only releases that have
everything the code uses, and stops before the next major."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import stripe
from packaging.requirements import Requirement
from packaging.version import Version

# What the project uses -> the first stripe release that has it (stripe-python's CHANGELOG).
NEEDS = {
    "StripeClient.v1, through which the gateway calls every service": Version("12.5.0"),
    "the parameter TypedDicts in stripe.params, which the sandbox checks requests against": Version("13.0.0"),
    "StripeObject.to_dict() as the supported recursive dump (deprecated before)": Version("15.0.0"),
}


def requirement() -> Requirement:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    found = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "stripe"]
    assert len(found) == 1, found
    return found[0]


def test_the_floor_has_everything_the_code_uses() -> None:
    floors = [Version(s.version) for s in requirement().specifier if s.operator in (">=", "==", "~=")]
    assert floors, requirement()
    missing = {what: str(v) for what, v in NEEDS.items() if max(floors) < v}
    assert missing == {}, f"{requirement()} admits releases without: {missing}"


def test_the_range_stops_before_the_next_major() -> None:
    """A major pins a newer API version: it is admitted once the tests have run on it."""
    spec = requirement().specifier
    tested = Version(stripe.VERSION)
    assert not spec.contains(f"{tested.major + 1}.0.0", prereleases=True), str(spec)


def test_the_installed_package_is_in_range_and_has_what_the_code_uses() -> None:
    assert requirement().specifier.contains(stripe.VERSION), (stripe.VERSION, str(requirement()))
    client = stripe.StripeClient("sk_test_contract")
    assert client.v1.checkout.sessions and client.v1.accounts.login_links and client.v1.refunds
    assert stripe.params.checkout.SessionCreateParams and stripe.params.RefundCreateParams
    obj = stripe.StripeObject.construct_from({"requirements": {"currently_due": ["external_account"]}}, "sk_test_x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert obj.to_dict() == {"requirements": {"currently_due": ["external_account"]}}
