"""Checking request parameters the way Stripe does, against a small spec.

A spec maps each accepted parameter to what it holds:
``SCALAR`` a string, ``MAP`` a free-form string map (metadata), ``STRINGS`` a
list of strings, a dict a nested object, a one-element list a list of objects.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import StripeError, invalid_param, missing_param, unknown_param

SCALAR = "scalar"
MAP = "map"
STRINGS = "strings"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_known(params: Any, spec: Any, prefix: str = "") -> None:
    """Refuse the first parameter the spec does not know, naming it as Stripe does."""
    if spec == SCALAR:
        if isinstance(params, (dict, list)):
            raise invalid_param(prefix, f"Invalid string: {params!r}")
        return
    if spec == MAP:
        if params == "":
            return
        if not isinstance(params, dict):
            raise invalid_param(prefix, f"Invalid object: {prefix} must be a hash")
        for k, v in params.items():
            if isinstance(v, (dict, list)):
                raise invalid_param(f"{prefix}[{k}]", f"Invalid string: {v!r}")
        return
    if spec == STRINGS:
        if isinstance(params, str):
            return
        if not isinstance(params, list):
            raise invalid_param(prefix, f"Invalid array: {prefix} must be an array")
        return
    if isinstance(spec, list):
        if not isinstance(params, list):
            raise invalid_param(prefix, f"Invalid array: {prefix} must be an array")
        for i, item in enumerate(params):
            check_known(item, spec[0], f"{prefix}[{i}]")
        return
    if not isinstance(params, dict):
        raise invalid_param(prefix, f"Invalid object: {prefix} must be a hash")
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in spec:
            raise unknown_param(name)
        check_known(value, spec[key], name)


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def to_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid_param(param, f"Invalid integer: {value}", "parameter_invalid_integer")
    try:
        n = int(value)
    except ValueError:
        raise invalid_param(param, f"Invalid integer: {value}", "parameter_invalid_integer") from None
    if minimum is not None and n < minimum:
        raise invalid_param(param, f"This value must be greater than or equal to {minimum}.")
    return n


def to_bool(value: Any, param: str) -> bool:
    if str(value).lower() in {"true", "false"}:
        return str(value).lower() == "true"
    raise invalid_param(param, f"Invalid boolean: {value}")


def require(params: dict[str, Any], key: str, prefix: str = "") -> Any:
    value = params.get(key)
    if value is None or value == "":
        raise missing_param(f"{prefix}[{key}]" if prefix else key)
    return value


def one_of(value: Any, allowed: list[str], param: str) -> str:
    if value not in allowed:
        *head, last = allowed
        choices = ", ".join(head) + f", or {last}" if head else last
        raise invalid_param(param, f"Invalid {param}: must be one of {choices}")
    return str(value)


def check_url(value: Any, param: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise invalid_param(param, "Not a valid URL", "url_invalid")
    return value


def check_email(value: Any, param: str) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise invalid_param(param, f"Invalid email address: {value}", "email_invalid")
    return value


def check_metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    if value in (None, ""):
        return {}
    if len(value) > 50:
        raise StripeError(400, "You can specify up to 50 keys in metadata.", param=param)
    for k, v in value.items():
        if len(k) > 40:
            raise invalid_param(f"{param}[{k}]", "Metadata keys can have up to 40 characters.")
        if len(str(v)) > 500:
            raise invalid_param(f"{param}[{k}]", "Metadata values can have up to 500 characters.")
    return {k: v for k, v in value.items() if v != ""}


# Stripe's enums, as its API reference lists them; a value outside is refused, naming the param.
CHECKOUT_LOCALES = (
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr",
    "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt",
    "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
)
CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
# Stripe's presentment currencies, in the lower case its requests use.
CURRENCIES = frozenset("""
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp
    byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip
    gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt
    lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr
    nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd
    std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar
    zmw
""".split())


def check_currency(value: Any, param: str) -> str:
    if value not in CURRENCIES:
        raise invalid_param(
            param,
            f"Invalid currency: {value}. Stripe currently supports these currencies: "
            + ", ".join(sorted(CURRENCIES)),
        )
    return str(value)
