"""Declared shapes for what comes in from outside: REST bodies and Socket.IO payloads.

A ``Schema`` names its fields, their types and bounds. ``parse`` refuses, as an
``Invalid`` (422 / ``{ok: false}`` ack) naming the field by its path
(``patients[0].name``):

- a field the schema does not know (``unknown_field``): a misspelt ``amout``
  must not silently mean "refund everything";
- a missing required field (``missing_field``);
- a wrong type (``true`` is not a number, ``1.0`` is not a whole number of
  minor units, a number is not a text unless declared so), a value out of
  range, a text too long, a value not among the choices (``invalid_field``,
  or the field's own code such as ``invalid_amount``);
- text with characters that are not allowed (``invalid_text``), see ``clean_text``.

An optional field that is absent, ``null`` or blank text is left out of the
result, so services read ``data.get(name)``. The same declaration gives the
JSON Schema of the OpenAPI document (``json_schema``), so the document and the
handlers cannot drift apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.errors import BadInput, Invalid

# Bidirectional formatting characters: embeddings and overrides (U+202A–U+202E),
# isolates (U+2066–U+2069), and the invisible marks (U+200E LRM, U+200F RLM,
# U+061C ALM). They reorder what a reader sees ("‮gnp.exe" shows as "exe.png"), and
# no name, label or description needs them: right-to-left scripts display
# correctly without. Line and paragraph separators (U+2028/U+2029) break lines
# where one-line text is expected.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
LINE_BREAKERS = frozenset("\u2028\u2029")


def bad_character(value: str) -> str | None:
    """The first character a one-line text may not hold: a control (C0, DEL, C1) or bidi character."""
    for ch in value:
        if ch in BIDI_CONTROLS or ch in LINE_BREAKERS or unicodedata.category(ch) == "Cc":
            return ch
    return None


def clean_text(value: Any, name: str, *, max_len: int = 200, required: bool = True) -> str | None:
    """The one check for names, labels and descriptions from any edge (REST, socket, admin form).

    Trims surrounding space; blank is ``None`` when not required. Refuses
    control characters and bidirectional formatting characters anywhere in it.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("missing_field", "This field is required.", field=name)
        return None
    if not isinstance(value, str):
        raise Invalid("invalid_field", "This value must be a text.", field=name)
    value = value.strip()
    if len(value) > max_len:
        raise Invalid("invalid_field", "This text is too long.", field=name, max_length=max_len)
    if bad_character(value) is not None:
        raise Invalid("invalid_text", "This text contains control or text-direction characters.", field=name)
    return value


@dataclass(frozen=True, kw_only=True)
class Type:
    """One field's type; ``check`` returns the clean value or raises ``Invalid`` naming ``path``.

    ``code`` and ``message`` replace the generic ones for a field whose error
    hosts and panels already know (``invalid_amount``, ``invalid_currency``…);
    an unknown or missing field keeps ``unknown_field`` / ``missing_field``.
    """

    code: str | None = None
    message: str | None = None

    def fail(self, code: str, message: str, path: str, **params: object) -> Invalid:
        return Invalid(self.code or code, self.message or message, field=path, **params)

    def check(self, value: Any, path: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Text(Type):
    """One line of text. ``numbers``: a JSON number is taken as its digits (ids hosts keep as integers)."""

    max_len: int = 200
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    numbers: bool = False
    description: str | None = None

    def check(self, value: Any, path: str) -> Any:
        if self.numbers and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        try:
            text = clean_text(value, path, max_len=self.max_len)
        except Invalid as e:
            raise self.fail(e.code, e.message, path) from None
        assert text is not None
        if self.choices is not None and text not in self.choices:
            raise self.fail("invalid_field", "This value is not one of the allowed choices.", path)
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise self.fail("invalid_field", "This value is not in the expected format.", path)
        return text

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": self.max_len}
        if self.choices is not None:
            out["enum"] = list(self.choices)
        if self.pattern is not None:
            out["pattern"] = f"^{self.pattern}$"
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True, kw_only=True)
class Whole(Type):
    """A whole number within bounds: money in minor units, counts. Booleans and fractions are refused."""

    minimum: int
    maximum: int
    description: str | None = None

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail("invalid_field", "This value must be a whole number.", path)
        if not self.minimum <= value <= self.maximum:
            raise self.fail("invalid_field", "This number is out of range.", path)
        return value

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True, kw_only=True)
class Flag(Type):
    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise self.fail("invalid_field", "This value must be true or false.", path)
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True, kw_only=True)
class ListOf(Type):
    items: Type
    min_items: int = 0
    max_items: int = 100

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise self.fail("invalid_field", "This value must be a list.", path)
        if not value and self.min_items:
            raise Invalid("missing_field", "This field is required.", field=path)
        if not self.min_items <= len(value) <= self.max_items:
            raise self.fail("invalid_field", "This list has too few or too many items.", path)
        return [self.items.check(item, f"{path}[{n}]") for n, item in enumerate(value)]

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "minItems": self.min_items, "maxItems": self.max_items,
                "items": self.items.json_schema()}


@dataclass(frozen=True, kw_only=True)
class ListOrWord(ListOf):
    """A list of distinct items as ``ListOf``, or one word that stands for every one (``"all"``).

    A list that names the same item twice is refused: each item is one thing to act on once."""

    word: str

    def check(self, value: Any, path: str) -> Any:
        if value == self.word:
            return value
        if isinstance(value, str):
            raise self.fail("invalid_field", "This value must be a list or the word all.", path)
        items = super().check(value, path)
        if len(set(items)) != len(items):
            raise self.fail("invalid_field", "This list names the same item more than once.", path)
        return items

    def json_schema(self) -> dict[str, Any]:
        return {"oneOf": [{"type": "string", "enum": [self.word]}, {**super().json_schema(), "uniqueItems": True}]}


@dataclass(frozen=True, kw_only=True)
class Schema(Type):
    """An object with exactly these fields; ``required`` must be present and not null or blank."""

    fields: Mapping[str, Type]
    required: tuple[str, ...] = ()
    # Optional fields whose ``null`` is kept as ``None`` (it means "clear this"), not dropped.
    clearable: tuple[str, ...] = field(default=())

    def parse(self, value: Any, *, empty: bool = False) -> dict[str, Any]:
        """The whole body or payload, checked; with ``empty``, no body at all counts as ``{}``."""
        if value is None and empty:
            value = {}
        if not isinstance(value, dict):
            raise BadInput("bad_request", "The input must be a JSON object.")
        return self.check(value, "")

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise self.fail("invalid_field", "This value must be an object.", path)
        for name in value:
            if name not in self.fields:
                raise Invalid("unknown_field", "This field is not known.", field=_join(path, str(name)[:50]))
        out: dict[str, Any] = {}
        for name, kind in self.fields.items():
            raw = value.get(name)
            where = _join(path, name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if name in self.required:
                    raise Invalid("missing_field", "This field is required.", field=where)
                if raw is None and name in value and name in self.clearable:
                    out[name] = None
                continue
            out[name] = kind.check(raw, where)
        return out

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                name: {**kind.json_schema(), **({"nullable": True} if name not in self.required else {})}
                for name, kind in self.fields.items()
            },
        }
        if self.required:
            out["required"] = list(self.required)
        return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
