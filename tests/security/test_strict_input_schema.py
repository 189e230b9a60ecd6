"""The OpenAPI document and the handlers share one declaration of every request body.

Each body in the document is exactly the JSON Schema of the schema its handler
parses with (same fields, types, bounds, ``additionalProperties: false`` at every
level), and each handler really refuses a field the document does not list.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from app import inputs
from app.i18n import get_translator
from app.schema import Schema, Text, Whole, bad_character, clean_text
from app.web.openapi import REQUEST_BODIES, SPEC
from tests.factories import Live

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = {
    op["operationId"]: (method.upper(), path, op)
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
}


def objects(schema: dict[str, Any], where: str = "body") -> list[tuple[str, dict[str, Any]]]:
    """Every object schema inside ``schema``, with where it is."""
    found = []
    if schema.get("type") == "object":
        found.append((where, schema))
        for name, sub in schema.get("properties", {}).items():
            found += objects(sub, f"{where}.{name}")
    if schema.get("type") == "array":
        found += objects(schema["items"], f"{where}[]")
    return found


def test_every_request_body_is_declared_by_a_handler_schema() -> None:
    with_body = {op_id for op_id, (_, _, op) in OPERATIONS.items() if "requestBody" in op}
    assert with_body == set(REQUEST_BODIES)
    for op_id in with_body:
        body = OPERATIONS[op_id][2]["requestBody"]["content"]["application/json"]["schema"]
        assert body == REQUEST_BODIES[op_id].json_schema(), op_id
        for where, schema in objects(body):
            assert schema.get("additionalProperties") is False, (op_id, where)
            assert schema.get("properties"), (op_id, where)
        # Every number has both bounds and every text a maximum length.
        for where, schema in objects(body):
            for name, prop in schema["properties"].items():
                if prop["type"] == "integer":
                    assert "minimum" in prop and "maximum" in prop, (op_id, where, name)
                if prop["type"] == "string":
                    assert "maxLength" in prop, (op_id, where, name)


def test_the_handlers_parse_with_the_documented_schemas() -> None:
    """The REST handlers name the very schemas the document is built from."""
    source = "".join((ROOT / f).read_text() for f in ("app/web/api.py", "app/web/bill_cards_api.py"))
    used = {node.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "inputs"}
    names = {id(schema): name for name, schema in vars(inputs).items() if isinstance(schema, Schema)}
    assert {names[id(schema)] for schema in REQUEST_BODIES.values()} <= used


@pytest.mark.parametrize("op_id", sorted(REQUEST_BODIES))
async def test_each_documented_body_refuses_an_unknown_field(live: Live, op_id: str) -> None:
    method, path, _ = OPERATIONS[op_id]
    path = path.replace("{request_id}", "pr_unknown").replace("{card_id}", "bc_unknown")
    status, body = await live.api(method, path, {"zz_not_in_the_document": 1})
    assert status == 422, (op_id, body)
    assert body["error"] == {**body["error"], "code": "unknown_field", "field": "zz_not_in_the_document"}


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069", "\u200e", "\u200f", "\u061c", "\x00", "\t", "\n", "\x7f", "\x9b",
                                  "\u2028", "\u2029"])
def test_the_text_check_refuses_control_and_bidi_characters(char: str) -> None:
    assert bad_character(f"a{char}b") == char
    with pytest.raises(Exception, match="control or text-direction"):
        clean_text(f"a{char}b", "name")


@pytest.mark.parametrize("text", ["Kari Nordmann", "Bjørn Ærø-Åsen", "محمد", "שלום", "李小龙", "Zoë O’Brien",
                                  "Dr. med. 👩‍⚕️"])
def test_the_text_check_keeps_ordinary_names_in_any_script(text: str) -> None:
    assert clean_text(f"  {text} ", "name") == text


def sentences(node: ast.AST) -> list[str]:
    """Messages for people: capitalised string arguments ending in a full stop (as tests/i18n counts them)."""
    values = [node.value] if isinstance(node, ast.Assign) else []
    if isinstance(node, ast.Call):
        values = [*node.args, *(k.value for k in node.keywords if k.arg == "message")]
    return [v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            and v.value[:1].isupper() and v.value.endswith(".")]


def test_schema_messages_are_translated() -> None:
    messages = set()
    for path in ("app/schema.py", "app/inputs.py", "app/validation.py"):
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            messages.update(sentences(node))
    assert "This field is not known." in messages
    for lang in ("nb", "sv"):
        t = get_translator(lang)
        assert not sorted(m for m in messages if t.gettext(m) == m), lang


def test_types_keep_their_bounds_in_the_document() -> None:
    assert Whole(minimum=1, maximum=5).json_schema() == {"type": "integer", "minimum": 1, "maximum": 5}
    assert Text(max_len=3, choices=("a",)).json_schema() == {"type": "string", "minLength": 1, "maxLength": 3,
                                                             "enum": ["a"]}
