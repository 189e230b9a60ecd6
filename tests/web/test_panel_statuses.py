"""The panels learn the statuses from the page, never from copies in the scripts."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path

from app.billing.statuses import (
    REQUEST_ENDED_UNPAID,
    REQUEST_LABELS,
    REQUEST_OPEN,
    REQUEST_PAID,
    CardStatus,
    CheckoutProblem,
    ConsultStatus,
    Onward,
    RequestStatus,
)
from tests.factories import Live

JS_DIR = Path(__file__).resolve().parents[2] / "static" / "js"
CONFIG = re.compile(r'<script type="application/json" id="config">(.*?)</script>', re.S)


def test_statuses_are_str_enums_with_the_stored_values():
    # The values are in the database and in the plugin contract: they never change.
    assert [s.value for s in RequestStatus] == [
        "requested",
        "checkout_open",
        "paid",
        "cancelled",
        "expired",
        "failed",
        "refunded",
        "partially_refunded",
        "authorised",
        "released",
        "card_saved",
    ]
    assert [s.value for s in CardStatus] == [
        "under_work",
        "open",
        "open_exported",
        "paid",
        "invoice_generated",
        "manual_handling",
        "not_exported",
        "invoice_exported",
        "invoice_paid",
    ]
    assert [s.value for s in ConsultStatus] == ["active", "ended"]
    for enum in (RequestStatus, CardStatus, ConsultStatus):
        assert issubclass(enum, StrEnum)
    assert RequestStatus.PAID == "paid" and json.dumps(RequestStatus.PAID) == '"paid"'
    assert set(REQUEST_LABELS) == set(RequestStatus)


async def test_both_panels_carry_the_statuses_in_their_config(live: Live):
    consult = await live.consult()
    for person in (consult["clinician"], consult["patients"][0]):
        async with live.http.get(person["join_url"]) as resp:  # type: ignore[union-attr]
            assert resp.status == 200
            config = json.loads(CONFIG.search(await resp.text()).group(1))  # type: ignore[union-attr]
        statuses = config["statuses"]
        assert statuses["request"] == {s.name: s.value for s in RequestStatus}
        assert statuses["card"] == {s.name: s.value for s in CardStatus}
        assert statuses["consult"] == {s.name: s.value for s in ConsultStatus}
        assert statuses["open"] == sorted(REQUEST_OPEN)
        assert statuses["paid"] == sorted(REQUEST_PAID)
        assert statuses["ended_unpaid"] == sorted(REQUEST_ENDED_UNPAID)
        # The English msgids; the page's i18n block translates them.
        assert statuses["labels"] == {s.value: REQUEST_LABELS[s] for s in RequestStatus}


def script_literals(text: str) -> set[str]:
    """Quoted strings and the keys of literal maps (``{ paid: true }``) in a script, comments removed."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    # The dialog element's own attribute, not a bill card status.
    text = re.sub(r"""(?:set|remove|has)Attribute\(\s*["']open["']""", "", text)
    quoted = re.findall(r"""["']([A-Za-z_]+)["']""", text)
    keys = re.findall(r"""[{,]\s*([A-Za-z_]+)\s*:\s*(?:true|["'])""", text)
    return set(quoted) | set(keys)


def test_no_status_literal_is_left_in_the_scripts():
    statuses = {s.value for enum in (RequestStatus, CardStatus, ConsultStatus, CheckoutProblem, Onward) for s in enum}
    # States the server has never sent, once checked for by the scripts.
    statuses |= {"closed", "finished"}
    scripts = sorted(JS_DIR.rglob("*.js"))
    assert scripts
    for path in scripts:
        found = script_literals(path.read_text("utf-8")) & statuses
        assert not found, f"{path.relative_to(JS_DIR)} copies statuses {sorted(found)}: read config.statuses"
