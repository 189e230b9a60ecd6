"""The product rules the code relies on live in docs/rules.md, and the code cites only rules that are there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.billing.statuses import LABELS, CheckoutProblem, Onward
from app.billing.transitions import ALLOWED

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "rules.md"
# Where code, templates and tests live; a citation anywhere here must resolve.
SOURCES = ("app", "integrations", "tests", "static", "templates", "bench")
SUFFIXES = {".py", ".js", ".html", ".md"}

RULE = re.compile(r'<a id="([a-z]\d+)"></a>\*\*([A-Z]\d+)\.\*\*')
# "rule M3", "rules M3 and M4", "rules B5, B6", and "docs/rules.md#m3".
CITED = re.compile(r"\brules?\s+([A-Z]\d+(?:(?:\s*,\s*|\s+and\s+|\s+or\s+)[A-Z]\d+)*)\b")
LINKED = re.compile(r"rules\.md#([a-z]\d+)\b")


def _sources() -> list[Path]:
    found = []
    for top in SOURCES:
        for path in (ROOT / top).rglob("*"):
            if path.suffix in SUFFIXES and path.is_file() and "locales" not in path.parts:
                found.append(path)
    return found


def _doc_rules() -> dict[str, str]:
    text = RULES.read_text(encoding="utf-8")
    rules = {}
    for anchor, name in RULE.findall(text):
        assert anchor == name.lower(), f"rule {name} has the anchor #{anchor}"
        assert name not in rules, f"rule {name} is defined twice"
        rules[name] = anchor
    return rules


def _citations(text: str) -> set[str]:
    ids = {rule_id.upper() for rule_id in LINKED.findall(text)}
    for group in CITED.findall(text):
        ids.update(re.findall(r"[A-Z]\d+", group))
    return ids


def test_every_rule_cited_in_code_is_in_the_rules_doc() -> None:
    rules = _doc_rules()
    assert len(rules) >= 40
    missing = {}
    for path in [*_sources(), RULES]:
        for rule_id in _citations(path.read_text(encoding="utf-8", errors="replace")):
            if rule_id not in rules:
                missing.setdefault(rule_id, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"cited but not in docs/rules.md: {missing}"


def test_the_code_cites_the_rules_doc_and_not_a_document_outside_the_repository() -> None:
    outside = [str(p.relative_to(ROOT)) for p in _sources()
               if p != Path(__file__) and "product.md" in p.read_text(errors="replace")]
    assert not outside, f"cite docs/rules.md instead of product.md in: {outside}"
    citing = [p for p in _sources() if _citations(p.read_text(errors="replace"))]
    assert len(citing) >= 8


def _table(rule: str) -> list[list[str]]:
    """The rows of the first table after rule ``rule``'s anchor, code cells unquoted."""
    text = RULES.read_text(encoding="utf-8")
    start = text.index(f'<a id="{rule}"></a>')
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # without the header and its rule


def test_the_status_table_is_the_codes_and_labels_the_code_uses() -> None:
    documented = {row[0]: row[1] for row in _table("s1")}
    assert documented == LABELS


def test_the_problem_and_onward_tables_are_the_codes_the_code_uses() -> None:
    assert [row[0] for row in _table("p12")] == [p.value for p in CheckoutProblem]
    assert [row[0] for row in _table("p13")] == [o.value for o in Onward]


def test_the_transition_table_is_the_one_the_code_enforces() -> None:
    documented: dict[str, set[str]] = {}
    for row in _table("t1"):
        documented.setdefault(row[0], set()).add(row[1])
    assert documented == {start: set(ends) for start, ends in ALLOWED.items() if ends}


@pytest.mark.parametrize(("text", "ids"), [
    ("(docs/rules.md, rule M3)", {"M3"}),
    ("rules B5, B6 and M8", {"B5", "B6", "M8"}),
    ("see docs/rules.md#t1", {"T1"}),
    ("a rule of thumb; 48 rules", set()),
])
def test_citations_are_read_as_written(text: str, ids: set[str]) -> None:
    assert _citations(text) == ids
