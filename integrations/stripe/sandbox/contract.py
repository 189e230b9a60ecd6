"""Refusing what Stripe refuses, by the ``stripe`` package's own parameter definitions.

The SDK ships a ``TypedDict`` for every endpoint, generated for the API version
it pins: each key Stripe accepts, which are required, each enum as
``Literal[...]``, each integer, boolean, list and nested object. Every ``/v1``
request is checked against the definition of its endpoint before its view
runs, and the first problem is refused with Stripe's own error: an unknown
parameter, a value outside an enum or of the wrong kind, a missing required
parameter. The views keep the rules a type cannot say (amounts, URLs, what an
account may do).

Parameters are checked as they came over the wire: form-encoded bracket keys
(``line_items[0][price_data][currency]=nok``) decoded into a tree of dicts and
strings, without guessing which dicts are lists; the type says so.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, ForwardRef
from urllib.parse import parse_qsl

import stripe.params
import typing_extensions

from .errors import StripeError, invalid_param, missing_param, unknown_param

_INT = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_KEY = re.compile(r"\[([^\]]*)\]")
_LITERALS = (typing.Literal, typing_extensions.Literal)

# Keys of the SDK's RequestOptions: the parameter classes inherit them, but the
# SDK sends them as headers, never as parameters.
_REQUEST_OPTIONS = frozenset(
    {"api_key", "stripe_version", "stripe_account", "stripe_context", "max_network_retries",
     "idempotency_key", "content_type", "headers"})

# The sandbox's routes and the SDK's definition of each (under stripe.params).
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/checkout/sessions"): "checkout.SessionCreateParams",
    ("GET", "/v1/checkout/sessions"): "checkout.SessionListParams",
    ("GET", "/v1/checkout/sessions/{id}"): "checkout.SessionRetrieveParams",
    ("POST", "/v1/checkout/sessions/{id}/expire"): "checkout.SessionExpireParams",
    ("GET", "/v1/checkout/sessions/{id}/line_items"): "checkout.SessionLineItemListParams",
    ("POST", "/v1/payment_intents"): "PaymentIntentCreateParams",
    ("GET", "/v1/payment_intents/{id}"): "PaymentIntentRetrieveParams",
    ("POST", "/v1/customers"): "CustomerCreateParams",
    ("GET", "/v1/customers/{id}"): "CustomerRetrieveParams",
    ("GET", "/v1/setup_intents/{id}"): "SetupIntentRetrieveParams",
    ("GET", "/v1/payment_methods/{id}"): "PaymentMethodRetrieveParams",
    ("POST", "/v1/payment_intents/{id}/capture"): "PaymentIntentCaptureParams",
    ("POST", "/v1/payment_intents/{id}/cancel"): "PaymentIntentCancelParams",
    ("GET", "/v1/charges/{id}"): "ChargeRetrieveParams",
    ("POST", "/v1/refunds"): "RefundCreateParams",
    ("GET", "/v1/refunds"): "RefundListParams",
    ("GET", "/v1/refunds/{id}"): "RefundRetrieveParams",
    ("GET", "/v1/events"): "EventListParams",
    ("GET", "/v1/events/{id}"): "EventRetrieveParams",
    ("POST", "/v1/accounts"): "AccountCreateParams",
    ("GET", "/v1/accounts"): "AccountListParams",
    ("GET", "/v1/accounts/{id}"): "AccountRetrieveParams",
    ("POST", "/v1/accounts/{id}"): "AccountUpdateParams",
    ("DELETE", "/v1/accounts/{id}"): "AccountDeleteParams",
    ("POST", "/v1/account_links"): "AccountLinkCreateParams",
    ("POST", "/v1/accounts/{id}/login_links"): "AccountLoginLinkCreateParams",
}


@dataclass(frozen=True)
class Violation:
    kind: str  # "unknown", "invalid", "missing"
    param: str  # as Stripe names it: "line_items[0][price_data][currency]"
    message: str
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.param or '(body)'}: {self.message}"

    def error(self) -> StripeError:
        if self.kind == "unknown":
            return unknown_param(self.param)
        if self.kind == "missing":
            return missing_param(self.param)
        return invalid_param(self.param, self.message, self.code)


class DecodeError(ValueError):
    pass


def decode(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Bracket keys into a tree of dicts; ``[]`` appends at the next free index."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (_KEY.findall("[" + rest) if rest else [])
        node = root
        for i, part in enumerate(parts):
            if part == "":
                part = str(len(node))
            if i == len(parts) - 1:
                if isinstance(node.get(part), dict):
                    raise DecodeError(f"{key} is sent both as a value and as an object")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise DecodeError(f"{key} is sent both as a value and as an object")
                node = child
    return root


def decode_query(query: str) -> dict[str, Any]:
    return decode(parse_qsl(query, keep_blank_values=True))


def _name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _is_literal(tp: Any) -> bool:
    return typing_extensions.get_origin(tp) in _LITERALS


def _close_enum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``Literal["a", "b"] | str`` is how the SDK types an enum so that values Stripe
    adds later still type-check; Stripe itself refuses anything outside the enum of
    the pinned version, so the ``str`` is dropped. ``Literal[""] | str`` (a string,
    or empty to unset) keeps it."""
    enums = [a for a in args if _is_literal(a) and any(v != "" for v in typing_extensions.get_args(a))]
    if enums and str in args:
        return tuple(a for a in args if a is not str)
    return args


@cache
def _evaluate(annotation: str, module: str) -> Any:
    namespace = dict(vars(typing))
    namespace.update(vars(sys.modules[module]))
    return eval(annotation, namespace)  # the SDK's own annotation text, in its own module


class _Checker:
    def __init__(self) -> None:
        self._fields: dict[type, dict[str, Any]] = {}

    def _eval(self, annotation: Any, module: str) -> Any:
        if isinstance(annotation, ForwardRef):
            annotation = annotation.__forward_arg__
        if isinstance(annotation, str):
            return _evaluate(annotation, module)
        return annotation

    def _unwrap(self, tp: Any, module: str) -> Any:
        tp = self._eval(tp, module)
        while typing_extensions.get_origin(tp) in (typing_extensions.NotRequired, typing_extensions.Required,
                                                   typing.NotRequired, typing.Required, typing_extensions.Annotated):
            tp = self._eval(typing_extensions.get_args(tp)[0], module)
        return tp

    def fields(self, cls: type) -> dict[str, Any]:
        """A TypedDict's keys and types, its inherited request options left out."""
        if cls not in self._fields:
            self._fields[cls] = {key: self._unwrap(ann, cls.__module__)
                                 for key, ann in cls.__annotations__.items() if key not in _REQUEST_OPTIONS}
        return self._fields[cls]

    def check(self, value: Any, tp: Any, param: str, module: str) -> list[Violation]:
        tp = self._unwrap(tp, module)
        origin = typing_extensions.get_origin(tp)
        args = typing_extensions.get_args(tp)
        if tp is Any or tp is object:
            return []
        if origin in (typing.Union, types.UnionType):
            attempts = [self.check(value, arg, param, module) for arg in _close_enum(args)]
            if any(not a for a in attempts):
                return []
            return min(attempts, key=len)  # the alternative that understood the value best
        if origin in _LITERALS:
            allowed = [str(a).lower() if isinstance(a, bool) else str(a) for a in args]
            if value in allowed:
                return []
            *head, last = allowed or [""]
            choices = ", ".join(head) + f", or {last}" if head else last
            return [Violation("invalid", param, f"Invalid {param}: must be one of {choices}")]
        if typing_extensions.is_typeddict(tp):
            return self.check_object(value, tp, param)
        if origin in (list, tuple) or tp is list:
            return self._list(value, args[0] if args else Any, param, module)
        if origin is dict or tp is dict:
            if not isinstance(value, dict):
                return [Violation("invalid", param, f"Invalid object: {param} must be a hash")]
            inner = args[1] if len(args) == 2 else Any
            return [v for k, item in value.items() for v in self.check(item, inner, _name(param, k), module)]
        return self._scalar(value, tp, param)

    def _list(self, value: Any, item: Any, param: str, module: str) -> list[Violation]:
        if not isinstance(value, dict) or list(value) != [str(i) for i in range(len(value))]:
            return [Violation("invalid", param, f"Invalid array: {param} must be an array")]
        return [v for i in range(len(value)) for v in self.check(value[str(i)], item, f"{param}[{i}]", module)]

    def _scalar(self, value: Any, tp: Any, param: str) -> list[Violation]:
        kind = getattr(tp, "__name__", str(tp))
        if isinstance(value, dict):
            return [Violation("invalid", param, f"Invalid {kind}: {param} must not be a hash")]
        if tp is bool and value not in ("true", "false"):
            return [Violation("invalid", param, f"Invalid boolean: {value}")]
        if tp is int and not _INT.match(value):
            return [Violation("invalid", param, f"Invalid integer: {value}", "parameter_invalid_integer")]
        if tp in (float, Decimal) and not _NUMBER.match(value):
            return [Violation("invalid", param, f"Invalid decimal: {value}")]
        if tp is type(None):
            return [Violation("invalid", param, f"Invalid value: {value}")]
        return []  # str, or a class the SDK types loosely (UntypedStripeObject): whatever it encodes

    def check_object(self, value: Any, cls: type, param: str) -> list[Violation]:
        if not isinstance(value, dict):
            return [Violation("invalid", param, f"Invalid object: {param} must be a hash")]
        fields = self.fields(cls)
        out: list[Violation] = []
        for key, item in value.items():
            if key not in fields:
                out.append(Violation("unknown", _name(param, key), "Received unknown parameter"))
            else:
                out.extend(self.check(item, fields[key], _name(param, key), cls.__module__))
        required = set(getattr(cls, "__required_keys__", ())) - _REQUEST_OPTIONS
        out.extend(Violation("missing", _name(param, key), "Missing required param")
                   for key in sorted(required - set(value)))
        return out


_CHECKER = _Checker()


def check_params(params_class: type, params: dict[str, Any]) -> list[Violation]:
    """Every way ``params`` (decoded from the wire) breaks ``params_class``; unknown keys first."""
    found = _CHECKER.check_object(params, params_class, "")
    order = {"unknown": 0, "invalid": 1, "missing": 2}
    return sorted(found, key=lambda v: order[v.kind])


@cache
def _route_patterns() -> list[tuple[str, re.Pattern[str], type]]:
    out = []
    for (method, template), name in ROUTES.items():
        regex = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        cls: Any = stripe.params
        for part in name.split("."):
            cls = getattr(cls, part)
        out.append((method, re.compile(regex), cls))
    return out


def params_class_for(method: str, path: str) -> type | None:
    return next((cls for m, rx, cls in _route_patterns() if m == method and rx.match(path)), None)


def refuse_what_stripe_refuses(method: str, path: str, raw: str) -> None:
    """Raise Stripe's error for the first problem with this request's parameters.

    ``raw`` is the query string (GET, DELETE) or the form body (POST).
    """
    cls = params_class_for(method, path)
    if cls is None:
        return
    try:
        params = decode_query(raw)
    except DecodeError as e:
        raise StripeError(400, str(e)) from None
    found = check_params(cls, params)
    if found:
        raise found[0].error()
