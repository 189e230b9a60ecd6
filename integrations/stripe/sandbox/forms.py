"""Stripe's form encoding: bracket keys into nested dicts and lists.

``metadata[a]=b``                         -> {"metadata": {"a": "b"}}
``line_items[0][price_data][currency]=nok`` -> {"line_items": [{"price_data": {...}}]}
``expand[]=x&expand[]=y``                  -> {"expand": ["x", "y"]}

Lists come out ordered by their index. A key used both as a scalar and as a
container is a client bug; the later value wins rather than raising, as Stripe
is lenient there too.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_TOKEN = re.compile(r"\[([^\]]*)\]")

_APPEND = object()


def _split_key(key: str) -> list[Any]:
    head, _, rest = key.partition("[")
    parts: list[Any] = [head]
    if rest:
        for token in _TOKEN.findall("[" + rest):
            parts.append(_APPEND if token == "" else token)
    return parts


def _listify(node: Any) -> Any:
    """Turn dicts whose keys are all list positions into ordered lists."""
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(isinstance(k, int) for k in converted):
            return [converted[k] for k in sorted(converted)]
        if any(isinstance(k, int) for k in converted):
            return {str(k): v for k, v in converted.items()}
        return converted
    return node


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[Any, Any] = {}
    counters: dict[int, int] = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part is _APPEND:
                # "[]" appends: number positions after any explicit ones.
                n = counters.get(id(node), len(node))
                counters[id(node)] = n + 1
                part = n
            elif isinstance(part, str) and part.isdigit() and i > 0:
                part = int(part)
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def parse_form(body: str) -> dict[str, Any]:
    return parse_pairs(parse_qsl(body, keep_blank_values=True))


def encode_form(params: dict[str, Any]) -> list[tuple[str, str]]:
    """The inverse, for hashing request parameters in a canonical order."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k in sorted(value):
                walk(f"{prefix}[{k}]" if prefix else str(k), value[k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{prefix}[{i}]", v)
        else:
            out.append((prefix, "" if value is None else str(value)))

    walk("", params)
    return out
