"""The sandbox serves objects in the shape of the API version it claims.

Each object the sandbox serves, fetched over HTTP as the app fetches it, is
checked two ways:

- against the ``stripe`` package's own class for it (``stripe.Account``,
  ``stripe.checkout.Session``, ...), generated for the API version the package
  pins: no key that version does not have, nested objects included;
- key by key against Stripe's example of that object (Stripe's OpenAPI
  fixtures, ``data/stripe-fixtures.json``): no key missing, none extra, unless
  ``DIFFERENCES`` lists it with its reason.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import stripe
from stripe_sandbox_support import API_KEY, Running, session_params

from integrations.stripe.sandbox.webhooks import API_VERSION

FIXTURES = json.loads((Path(__file__).parent / "data" / "stripe-fixtures.json").read_text())["resources"]

# (object, key path) -> why the sandbox's object differs from Stripe's example.
# "+" the sandbox has a key the example has not; "-" the example has a key the sandbox has not.
DIFFERENCES: dict[tuple[str, str, str], str] = {
    ("account", "+", "controller.is_controller"):
        "Stripe adds it when the platform reading the account controls it; the example is read by no platform",
    ("account", "+", "controller.fees"):
        "Stripe reports who pays fees for an account made with controller properties (the app's Express "
        "accounts are: stripe_dashboard express); the example is a standard account with no controller",
    ("account", "+", "controller.losses"): "as controller.fees",
    ("account", "+", "controller.requirement_collection"): "as controller.fees",
    ("account", "+", "controller.stripe_dashboard"): "as controller.fees",
    ("checkout.session", "+", "payment_method_options.card"):
        "Stripe fills the options of the method types in use (card, three-D Secure automatic); the example has none",
    ("payment_intent", "+", "payment_method_options.card"):
        "as for the Checkout Session: the card's options, since card is the method type",
    ("charge", "+", "payment_method_details.card.capture_before"):
        "on an authorised charge (a hold, manual capture) only: when the authorisation expires",
    ("charge", "+", "outcome.risk_level"):
        "Radar sets it on card payments it screens; the generated example leaves out such conditional fields",
    ("charge", "+", "outcome.risk_score"): "as risk_level",
    ("refund", "+", "destination_details.card.reference_status"):
        "a card refund's acquirer reference (pending until the network assigns it); the example is a reversal",
    ("refund", "+", "destination_details.card.reference_type"): "as reference_status",
    ("event", "+", "account"): "a Connect event names its connected account; the example is the platform's own",
    ("event", "+", "data.previous_attributes"): "present on *.updated events only; the example is plan.created",
}
# An event's data.object is compared as its own kind of object, not with the example's plan.
SKIP = {("event", "data.object")}


def key_diff(ours: Any, theirs: Any, path: str = "") -> list[tuple[str, str]]:
    """Keys present on one side only, recursing into objects both sides fill in."""
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        if isinstance(ours, list) and isinstance(theirs, list) and ours and theirs:
            return key_diff(ours[0], theirs[0], path + "[]")
        return []
    out = [("+", f"{path}.{k}".lstrip(".")) for k in ours.keys() - theirs.keys()]
    out += [("-", f"{path}.{k}".lstrip(".")) for k in theirs.keys() - ours.keys()]
    for k in ours.keys() & theirs.keys():
        if k == "metadata":  # free-form: its keys are the caller's
            continue
        out += key_diff(ours[k], theirs[k], f"{path}.{k}".lstrip("."))
    return sorted(out, key=lambda d: d[1])


SDK_CLASSES = {"account": stripe.Account, "account_link": stripe.AccountLink, "login_link": stripe.LoginLink,
               "checkout.session": stripe.checkout.Session, "payment_intent": stripe.PaymentIntent,
               "charge": stripe.Charge, "refund": stripe.Refund, "event": stripe.Event}


def _fields(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        out.update({k: v for k, v in vars(klass).get("__annotations__", {}).items() if not k.startswith("_")})
    return out


def _inner(tp: Any) -> type | None:
    """The SDK class a field holds, when it is one of a resource's nested classes or a list."""
    for arg in (tp, *typing.get_args(tp)):
        origin = typing.get_origin(arg) or arg
        if isinstance(origin, type) and issubclass(origin, stripe.StripeObject) and (
                "." in origin.__qualname__ or origin is stripe.ListObject):
            return origin
    return None


def unknown_to_sdk(obj: Any, cls: type, path: str = "") -> list[str]:
    """Keys the SDK's class for this API version does not have."""
    if not isinstance(obj, dict):
        return []
    fields = _fields(cls)
    out = []
    for key, value in obj.items():
        name = f"{path}.{key}".lstrip(".")
        if key not in fields:
            if key != "object":  # every object says what it is; list classes leave it unannotated
                out.append(name)
            continue
        inner = _inner(fields[key])
        if inner is not None and inner is not stripe.ListObject:
            out += unknown_to_sdk(value, inner, name)
        elif inner is stripe.ListObject and isinstance(value, dict):
            out += unknown_to_sdk({k: v for k, v in value.items() if k != "data"}, stripe.ListObject, name)
    return out


async def call(sandbox: Running, method: str, path: str, params: dict[str, Any] | None = None,
               account: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {API_KEY}", "Stripe-Version": stripe.api_version}
    if account:
        headers["Stripe-Account"] = account
    data = urlencode(_flat(params or {}))
    async with sandbox.http.request(method, sandbox.url + path, data=data or None, headers={
            **headers, "Content-Type": "application/x-www-form-urlencoded"}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        assert resp.headers["Stripe-Version"] == stripe.api_version
        return body


def _flat(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in params.items():
        key = f"{prefix}[{k}]" if prefix else k
        if isinstance(v, dict):
            out += _flat(v, key)
        elif isinstance(v, list):
            out += _flat(dict(enumerate(v)), key)
        else:
            out.append((key, str(v).lower() if isinstance(v, bool) else str(v)))
    return out


async def served(sandbox: Running) -> dict[str, dict[str, Any]]:
    """One of each object, made by the flows the app uses."""
    acct = await call(sandbox, "POST", "/v1/accounts", {
        "type": "express", "country": "NO", "email": "clinic@example.org", "business_profile": {"name": "Clinic"},
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}}})
    link = await call(sandbox, "POST", "/v1/account_links", {
        "account": acct["id"], "type": "account_onboarding", "refresh_url": "https://app.example/r",
        "return_url": "https://app.example/b"})
    await sandbox.control(f"/_control/accounts/{acct['id']}/onboard")
    login = await call(sandbox, "POST", f"/v1/accounts/{acct['id']}/login_links")
    account = await call(sandbox, "GET", f"/v1/accounts/{acct['id']}")
    session = await call(sandbox, "POST", "/v1/checkout/sessions", session_params(), account=acct["id"])
    await sandbox.control(f"/_control/checkout/sessions/{session['id']}/pay", {"email": "p@example.org"})
    session = await call(sandbox, "GET", f"/v1/checkout/sessions/{session['id']}", account=acct["id"])
    intent = await call(sandbox, "GET", f"/v1/payment_intents/{session['payment_intent']}", account=acct["id"])
    charge = await call(sandbox, "GET", f"/v1/charges/{intent['latest_charge']}", account=acct["id"])
    refund = await call(sandbox, "POST", "/v1/refunds", {"payment_intent": intent["id"], "amount": 100},
                        account=acct["id"])
    charge = await call(sandbox, "GET", f"/v1/charges/{charge['id']}", account=acct["id"])  # with its refund
    assert charge["refunds"]["data"][0]["id"] == refund["id"]
    events = await call(sandbox, "GET", "/v1/events", account=acct["id"])
    return {"account": account, "account_link": link, "login_link": login, "checkout.session": session,
            "payment_intent": intent, "charge": charge, "refund": refund, "event": events["data"][0]}


async def test_each_object_has_the_keys_of_stripes_own_example(sandbox: Running) -> None:
    objects = await served(sandbox)
    assert objects["event"]["api_version"] == API_VERSION
    unexplained = []
    for name, obj in objects.items():
        for side, path in key_diff(obj, FIXTURES[name]):
            if (name, side, path) not in DIFFERENCES and not any(
                    name == n and path.startswith(p) for n, p in SKIP):
                unexplained.append(f"{name}: {side}{path}")
    assert unexplained == [], "\n".join(unexplained)


async def test_no_object_has_a_key_the_pinned_api_version_lacks(sandbox: Running) -> None:
    objects = await served(sandbox)
    unknown = {name: unknown_to_sdk(obj, SDK_CLASSES[name]) for name, obj in objects.items()}
    assert {name: keys for name, keys in unknown.items() if keys} == {}


def test_the_sandbox_claims_the_api_version_the_sdk_pins() -> None:
    assert API_VERSION == stripe.api_version


async def test_a_hold_and_its_capture_have_stripes_shapes(sandbox: Running) -> None:
    """An authorised PaymentIntent and its uncaptured charge, then both after a partial capture."""
    acct = await call(sandbox, "POST", "/v1/accounts", {"type": "express", "country": "NO"})
    await sandbox.control(f"/_control/accounts/{acct['id']}/onboard")
    session = await call(sandbox, "POST", "/v1/checkout/sessions", session_params(
        payment_intent_data={"capture_method": "manual"}), account=acct["id"])
    await sandbox.control(f"/_control/checkout/sessions/{session['id']}/pay", {"email": "p@example.org"})
    session = await call(sandbox, "GET", f"/v1/checkout/sessions/{session['id']}", account=acct["id"])
    held = await call(sandbox, "GET", f"/v1/payment_intents/{session['payment_intent']}?expand[]=latest_charge",
                      account=acct["id"])
    captured = await call(sandbox, "POST", f"/v1/payment_intents/{held['id']}/capture",
                          {"amount_to_capture": 20000, "expand": ["latest_charge"]}, account=acct["id"])
    assert (held["status"], captured["status"]) == ("requires_capture", "succeeded")
    assert held["latest_charge"]["payment_method_details"]["card"]["capture_before"] > held["created"]
    objects = [("checkout.session", session)]
    for pi in (held, captured):
        objects += [("payment_intent", {**pi, "latest_charge": pi["latest_charge"]["id"]}),
                    ("charge", pi["latest_charge"])]
    unexplained = [f"{name}: {side}{path}" for name, obj in objects for side, path in key_diff(obj, FIXTURES[name])
                   if (name, side, path) not in DIFFERENCES]
    assert unexplained == [], "\n".join(unexplained)
    unknown = [f"{name}: {key}" for name, obj in objects for key in unknown_to_sdk(obj, SDK_CLASSES[name])]
    assert unknown == []


async def test_a_saved_card_and_its_off_session_charge_have_stripes_shapes(sandbox: Running) -> None:
    """A Customer, a setup session completed, its SetupIntent and PaymentMethod, and the off-session charge."""
    acct = await call(sandbox, "POST", "/v1/accounts", {"type": "express", "country": "NO"})
    await sandbox.control(f"/_control/accounts/{acct['id']}/onboard")
    customer = await call(sandbox, "POST", "/v1/customers", {"email": "p@example.org", "name": "Kari"},
                          account=acct["id"])
    session = await call(sandbox, "POST", "/v1/checkout/sessions", {
        "mode": "setup", "currency": "nok", "customer": customer["id"], "success_url": "https://app.example/ok",
        "setup_intent_data": {"metadata": {"payment_request_id": "pr_1"}}}, account=acct["id"])
    assert (session["payment_status"], session["amount_total"], session["setup_intent"]) == (
        "no_payment_required", None, None)
    await sandbox.control(f"/_control/checkout/sessions/{session['id']}/pay", {"email": "p@example.org"})
    session = await call(sandbox, "GET", f"/v1/checkout/sessions/{session['id']}", account=acct["id"])
    setup = await call(sandbox, "GET", f"/v1/setup_intents/{session['setup_intent']}", account=acct["id"])
    method = await call(sandbox, "GET", f"/v1/payment_methods/{setup['payment_method']}", account=acct["id"])
    assert (setup["status"], setup["usage"], method["customer"]) == ("succeeded", "off_session", customer["id"])
    intent = await call(sandbox, "POST", "/v1/payment_intents", {
        "amount": 42000, "currency": "nok", "customer": customer["id"], "payment_method": method["id"],
        "off_session": "true", "confirm": "true"}, account=acct["id"])
    charge = await call(sandbox, "GET", f"/v1/charges/{intent['latest_charge']}", account=acct["id"])
    assert (intent["status"], charge["amount_captured"]) == ("succeeded", 42000)
    objects = [("customer", customer), ("checkout.session", session), ("payment_intent", intent),
               ("charge", charge)]
    unexplained = [f"{name}: {side}{path}" for name, obj in objects for side, path in key_diff(obj, FIXTURES[name])
                   if (name, side, path) not in DIFFERENCES]
    assert unexplained == [], "\n".join(unexplained)
    classes = {**SDK_CLASSES, "customer": stripe.Customer, "setup_intent": stripe.SetupIntent,
               "payment_method": stripe.PaymentMethod}
    unknown = [f"{name}: {key}" for name, obj in [*objects, ("setup_intent", setup), ("payment_method", method)]
               for key in unknown_to_sdk(obj, classes[name])]
    assert unknown == []
