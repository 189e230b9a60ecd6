"""Check one request's parameters against the SDK's ``TypedDict`` for its endpoint.

Parameters arrive the way the SDK puts them on the wire: form-encoded, nested
objects and lists as bracket keys (``line_items[0][price_data][currency]=nok``),
booleans as ``true``/``false``, every leaf a string. They are decoded into a
tree of dicts and strings without guessing which dicts are lists; the type
says so, and a list must be indexed ``0..n-1`` as the SDK writes it.

What is refused, as Stripe refuses it: a key the definition does not have, a
value outside a ``Literal[...]`` enum, a missing required key, a value of the
wrong kind (integer, boolean, number, string, list, object).
"""

from __future__ import annotations

import re
import sys
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ForwardRef
from urllib.parse import parse_qsl

import typing_extensions

from .sdk_params import endpoint_for

_INT = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_KEY = re.compile(r"\[([^\]]*)\]")

# Keys of the SDK's RequestOptions: the parameter classes inherit them, but the
# SDK sends them as headers, never as parameters.
_REQUEST_OPTIONS = frozenset(
    {"api_key", "stripe_version", "stripe_account", "stripe_context", "max_network_retries",
     "idempotency_key", "content_type", "headers"})

Tree = dict[str, Any] | str


@dataclass(frozen=True)
class Violation:
    param: str  # as Stripe names it: "line_items[0][price_data][currency]"
    message: str

    def __str__(self) -> str:
        return f"{self.param or '(body)'}: {self.message}"


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


class _Checker:
    def __init__(self) -> None:
        self._hints: dict[type, dict[str, Any]] = {}

    # types ------------------------------------------------------------------
    def _eval(self, annotation: Any, module: str) -> Any:
        if isinstance(annotation, ForwardRef):
            annotation = annotation.__forward_arg__
        if isinstance(annotation, str):
            namespace = dict(vars(typing))
            namespace.update(vars(sys.modules[module]))
            annotation = eval(annotation, namespace)  # the SDK's own annotation text
        return annotation

    def _unwrap(self, tp: Any, module: str) -> Any:
        tp = self._eval(tp, module)
        while typing_extensions.get_origin(tp) in (typing_extensions.NotRequired, typing_extensions.Required,
                                                   typing.NotRequired, typing.Required,
                                                   typing_extensions.Annotated):
            tp = self._eval(typing_extensions.get_args(tp)[0], module)
        return tp

    def fields(self, cls: type) -> dict[str, Any]:
        """A TypedDict's keys and types, its inherited request options left out."""
        if cls not in self._hints:
            hints: dict[str, Any] = {}
            for klass in reversed(cls.__mro__):
                for key, ann in vars(klass).get("__annotations__", {}).items():
                    if key not in _REQUEST_OPTIONS:
                        hints[key] = self._unwrap(ann, klass.__module__)
            if not hints:  # TypedDict classes keep every annotation on the class itself
                for key, ann in cls.__annotations__.items():
                    if key not in _REQUEST_OPTIONS:
                        hints[key] = self._unwrap(ann, cls.__module__)
            self._hints[cls] = hints
        return self._hints[cls]

    # values -----------------------------------------------------------------
    def check(self, value: Any, tp: Any, param: str, module: str) -> list[Violation]:
        tp = self._unwrap(tp, module)
        origin = typing_extensions.get_origin(tp)
        args = typing_extensions.get_args(tp)
        if tp is Any or tp is object:
            return []
        if origin in (typing.Union, types.UnionType):
            return self._union(value, args, param, module)
        if origin in (typing.Literal, typing_extensions.Literal):
            allowed = [str(a).lower() if isinstance(a, bool) else str(a) for a in args]
            if value in allowed:
                return []
            shown = ", ".join(repr(a) for a in allowed)
            return [Violation(param, f"Invalid value {value!r}: must be one of {shown}")]
        if typing_extensions.is_typeddict(tp):
            return self.check_object(value, tp, param)
        if origin in (list, typing.List, tuple) or tp is list:  # noqa: UP006
            return self._list(value, args[0] if args else Any, param, module)
        if origin in (dict, typing.Dict) or tp is dict:  # noqa: UP006
            if not isinstance(value, dict):
                return [Violation(param, f"Invalid object: expected a hash, got {value!r}")]
            inner = args[1] if len(args) == 2 else Any
            return [v for k, item in value.items() for v in self.check(item, inner, _name(param, k), module)]
        return self._scalar(value, tp, param)

    def _union(self, value: Any, args: tuple[Any, ...], param: str, module: str) -> list[Violation]:
        args = _close_enum(args)
        attempts = [self.check(value, arg, param, module) for arg in args]
        if any(not a for a in attempts):
            return []
        # Report the alternative that understood the value's shape best.
        return min(attempts, key=len)

    def _list(self, value: Any, item: Any, param: str, module: str) -> list[Violation]:
        if not isinstance(value, dict):
            return [Violation(param, f"Invalid array: expected a list, got {value!r}")]
        keys = list(value)
        if keys != [str(i) for i in range(len(keys))]:
            return [Violation(param, f"Invalid array: indexes {keys} are not 0..{len(keys) - 1}")]
        return [v for i in range(len(keys)) for v in self.check(value[str(i)], item, f"{param}[{i}]", module)]

    def _scalar(self, value: Any, tp: Any, param: str) -> list[Violation]:
        if isinstance(value, dict):
            return [Violation(param, f"Invalid {getattr(tp, '__name__', tp)}: got an object")]
        if tp is bool:
            ok = value in ("true", "false")
        elif tp is int:
            ok = bool(_INT.match(value))
        elif tp in (float, Decimal):
            ok = bool(_NUMBER.match(value))
        elif tp is str:
            ok = True
        elif tp is type(None):
            ok = False
        else:  # a class the SDK types loosely (e.g. UntypedStripeObject): accept what it encodes
            ok = True
        return [] if ok else [Violation(param, f"Invalid {tp.__name__}: {value!r}")]

    def check_object(self, value: Any, cls: type, param: str) -> list[Violation]:
        if not isinstance(value, dict):
            return [Violation(param, f"Invalid object: expected a hash, got {value!r}")]
        fields = self.fields(cls)
        out: list[Violation] = []
        for key, item in value.items():
            name = _name(param, key)
            if key not in fields:
                out.append(Violation(name, "Received unknown parameter"))
                continue
            out.extend(self.check(item, fields[key], name, cls.__module__))
        required = set(getattr(cls, "__required_keys__", ())) - _REQUEST_OPTIONS
        for key in sorted(required - set(value)):
            out.append(Violation(_name(param, key), "Missing required param"))
        return out


def _close_enum(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``Literal["a", "b"] | str`` is how the SDK types an enum so that values Stripe
    adds later still type-check; Stripe itself refuses anything outside the enum of
    the pinned version, so the ``str`` is dropped. ``Literal[""] | str`` (a string,
    or empty to unset) keeps it."""
    enums = [a for a in args if typing_extensions.get_origin(a) in (typing.Literal, typing_extensions.Literal)
             and any(v != "" for v in typing_extensions.get_args(a))]
    if enums and str in args:
        return tuple(a for a in args if a is not str)
    return args


_CHECKER = _Checker()


def check_params(params_class: type, params: dict[str, Any]) -> list[Violation]:
    return _CHECKER.check_object(params, params_class, "")


def check_request(method: str, path: str, query: str, body: str | None) -> list[Violation]:
    """All the ways this request breaks its endpoint's definition (empty when none)."""
    endpoint = endpoint_for(method, path)
    if endpoint is None:
        return [Violation("", f"no {method} {path} in the stripe package's API")]
    try:
        params = decode_query(body if method.upper() == "POST" else query)
    except DecodeError as e:
        return [Violation("", str(e))]
    return check_params(endpoint.params_class(), params)
