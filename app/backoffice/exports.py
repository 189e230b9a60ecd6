"""Exports people open in a spreadsheet: CSV in the reader's locale, and XLSX with real numbers.

The REST reports' CSV (``format=csv``) is for machines and stays as it is:
English column codes, amounts in minor units, times in UTC. These exports are
for people, from the admin's report pages:

- **CSV in the reader's locale**: Norwegian (and Swedish) use ``;`` between
  cells and a decimal comma, English ``,`` and a decimal point; headers in the
  reader's language; amounts in major units (kroner, not øre); times as the
  clinic's local time; a UTF-8 byte-order mark, so Excel does not read the
  file as Latin-1.
- **XLSX** (openpyxl): amounts as numbers with a two-decimal number format,
  times as real date-times, so the spreadsheet can sum, sort and filter them.

Every text cell a spreadsheet could run as a formula is quoted as text
(``csv_cell``; in XLSX the cell is typed as a string); amounts and times are
ours, never typed in, so they are not.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from app.backoffice.reports import csv_cell
from app.i18n import Translator, currency_exponent
from app.i18n.zones import local_naive

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
# Languages that write a decimal comma, and so separate CSV cells with a semicolon.
DECIMAL_COMMA = frozenset({"nb", "sv"})
TIME_FORMATS = {"nb": "%d.%m.%Y %H:%M", "sv": "%Y-%m-%d %H:%M"}

# (row key, header msgid, kind): kind says how a value is written.
SETTLEMENT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("card_id", "Card id", "text"),
    ("created_at", "Created", "time"),
    ("exported_at", "Exported", "time"),
    ("clinic", "Clinic", "text"),
    ("basis_type", "Basis type", "basis"),
    ("status_label", "Status", "text"),
    ("patient_name", "Patient", "text"),
    ("currency", "Currency", "text"),
    ("patient_share", "Patient share", "money"),
    ("refund_share", "Refund share", "money"),
    ("paid", "Paid", "money"),
    ("refunded", "Refunded", "money"),
    ("admin_fee", "Admin fee", "money"),
    ("payment_types", "Payment type", "types"),
)
# The settlement report's card holds and no-show fees (app.backoffice.hold_lines): after the cards, as their
# own table (CSV) or sheet (XLSX). A blank amount is one the line does not have (no hold behind a fee).
LINE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("at", "When", "time"),
    ("clinic", "Clinic", "text"),
    ("patient_name", "Patient", "text"),
    ("line", "What", "line"),
    ("currency", "Currency", "text"),
    ("authorised", "Authorised", "money"),
    ("captured", "Captured", "money"),
    ("released", "Released", "money"),
    ("no_show_fee", "No-show fee", "money"),
    ("collected_by", "Collected", "collected"),
    ("card_id", "Card id", "text"),
)
LINES_TITLE = "Card holds and no-show fees"
BASIS = {"call": "Video call", "card": "Cash desk or API"}
EARNINGS_ROWS: tuple[tuple[str, str], ...] = (
    ("cards", "Cards"),
    ("patient_share", "Patient share"),
    ("admin_fees", "Admin fees"),
    ("total", "Total"),
    ("medipay_cost_per_card", "MediPay's cost: per card"),
    ("medipay_cost_percent", "MediPay's cost: percent of total"),
    ("medipay_cost", "MediPay's cost"),
    ("net", "Net"),
)


@dataclass(frozen=True)
class Reader:
    """Who the export is for: their language, the clinics' names and zones, and the labels to use."""

    t: Translator
    clinic_names: Mapping[str, str]
    clinic_zones: Mapping[str, ZoneInfo]
    default_zone: ZoneInfo
    payment_type: Callable[[str], str]
    hold_line: Callable[[str], str] = str
    collected_by: Callable[[str | None], str] = lambda code: code or ""

    @property
    def comma(self) -> bool:
        return self.t.lang in DECIMAL_COMMA

    def zone_of(self, clinic_id: str | None) -> ZoneInfo:
        return self.clinic_zones.get(clinic_id or "", self.default_zone)


def major(minor: int, currency: str) -> Decimal:
    """Minor units as a major-unit ``Decimal`` with the currency's decimals: 45000 NOK → 450.00."""
    exponent = currency_exponent(currency)
    return Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def _money_text(value: Decimal, comma: bool) -> str:
    text = f"{value:f}"
    return text.replace(".", ",") if comma else text


def _cells(row: dict[str, Any], r: Reader) -> list[tuple[str, Any]]:
    """(kind, value) per column, the values already in the reader's terms."""
    cells: list[tuple[str, Any]] = []
    zone = r.zone_of(row.get("clinic_id"))
    for key, _, kind in SETTLEMENT_COLUMNS:
        if kind == "time":
            cells.append((kind, local_naive(row.get(key), zone)))
        elif kind == "money":
            cells.append((kind, major(int(row[key] or 0), row["currency"])))
        elif kind == "basis":
            cells.append(("text", r.t.gettext(BASIS.get(row[key], row[key]))))
        elif kind == "types":
            cells.append(("text", ", ".join(r.payment_type(code) for code in row[key])))
        elif key == "clinic":
            cells.append(("text", r.clinic_names.get(row["clinic_id"], row["clinic_id"])))
        else:
            cells.append(("text", row.get(key)))
    return cells


def _line_cells(line: dict[str, Any], r: Reader) -> list[tuple[str, Any]]:
    """(kind, value) per column of a hold or no-show line, in the reader's terms."""
    cells: list[tuple[str, Any]] = []
    for key, _, kind in LINE_COLUMNS:
        if kind == "time":
            cells.append((kind, local_naive(line.get(key), r.zone_of(line.get("clinic_id")))))
        elif kind == "money":
            cells.append((kind, None if line[key] is None else major(int(line[key]), line["currency"])))
        elif kind == "line":
            cells.append(("text", r.hold_line(line[key])))
        elif kind == "collected":
            cells.append(("text", r.collected_by(line[key]) or None))
        elif key == "clinic":
            cells.append(("text", r.clinic_names.get(line["clinic_id"], line["clinic_id"])))
        else:
            cells.append(("text", line.get(key)))
    return cells


def _csv_text(kind: str, value: Any, r: Reader) -> str:
    if value is None:
        return ""
    if kind == "time":
        return value.strftime(TIME_FORMATS.get(r.t.lang, "%Y-%m-%d %H:%M"))  # type: ignore[no-any-return]
    if kind == "money":
        return _money_text(value, r.comma)
    if kind == "count":
        return str(value)
    return csv_cell(value)


def _csv_bytes(lines: list[list[str]], r: Reader, *, first: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";" if r.comma else ",", lineterminator="\r\n").writerows(lines)
    return ((BOM if first else "") + out.getvalue()).encode("utf-8")


async def settlement_local_csv(batches: AsyncIterator[list[dict[str, Any]]], r: Reader,
                               lines: list[dict[str, Any]] | None = None) -> bytes:
    """The settlement report's cards as CSV in the reader's locale (see the module docstring); then, after a
    blank row and a title row, its card holds and no-show fees as a table of their own."""
    chunks = [_csv_bytes([[r.t.gettext(header) for _, header, _ in SETTLEMENT_COLUMNS]], r, first=True)]
    async for rows in batches:
        chunks.append(_csv_bytes([[_csv_text(k, v, r) for k, v in _cells(row, r)] for row in rows], r))
    if lines:
        chunks.append(_csv_bytes([[], [r.t.gettext(LINES_TITLE)],
                                  [r.t.gettext(header) for _, header, _ in LINE_COLUMNS],
                                  *[[_csv_text(k, v, r) for k, v in _line_cells(line, r)] for line in lines]], r))
    return b"".join(chunks)


def _number_format(currency: str) -> str:
    exponent = currency_exponent(currency)
    return "#,##0" + ("." + "0" * exponent if exponent else "")


def _xlsx_cell(sheet: Any, kind: str, value: Any, currency: str = "NOK") -> Any:
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value if kind != "text" else str(value))
    if kind == "text":
        cell.data_type = "s"  # never a formula, whatever it starts with (openpyxl makes "=…" one)
    elif kind == "money":
        cell.number_format = _number_format(currency)
    elif kind == "time":
        cell.number_format = "yyyy-mm-dd hh:mm"
    return cell


def _header(sheet: Any, titles: list[str]) -> list[Any]:
    cells = []
    for title in titles:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = Font(bold=True)
        cells.append(cell)
    return cells


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def settlement_xlsx(batches: AsyncIterator[list[dict[str, Any]]], r: Reader,
                          lines: list[dict[str, Any]] | None = None) -> bytes:
    """The settlement report's cards as one XLSX sheet with numeric amounts and date-time cells; its card
    holds and no-show fees, if any, on a second sheet."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(r.t.gettext("Settlement report")[:31])
    sheet.append(_header(sheet, [r.t.gettext(header) for _, header, _ in SETTLEMENT_COLUMNS]))
    async for rows in batches:
        for row in rows:
            sheet.append([_xlsx_cell(sheet, kind, value, row["currency"]) for kind, value in _cells(row, r)])
    if lines:
        second = book.create_sheet(r.t.gettext(LINES_TITLE)[:31])
        second.append(_header(second, [r.t.gettext(header) for _, header, _ in LINE_COLUMNS]))
        for line in lines:
            second.append([_xlsx_cell(second, kind, value, line["currency"]) for kind, value in _line_cells(line, r)])
    return _save(book)


def _earnings_lines(report: dict[str, Any], r: Reader) -> list[tuple[str, str, Any]]:
    currency = report["currency"]
    return [(r.t.gettext(label), "count" if key == "cards" else "money",
             report[key] if key == "cards" else major(int(report[key]), currency)) for key, label in EARNINGS_ROWS]


def earnings_local_csv(report: dict[str, Any], r: Reader) -> bytes:
    """MediPay earnings as two columns, what and how much, in the reader's locale."""
    header = [r.t.gettext("MediPay earnings"), r.t.gettext("Amount") + f" ({report['currency']})"]
    lines = [[label, _csv_text(kind, value, r)] for label, kind, value in _earnings_lines(report, r)]
    return _csv_bytes([header, *lines], r, first=True)


def earnings_xlsx(report: dict[str, Any], r: Reader) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(r.t.gettext("MediPay earnings")[:31])
    sheet.append(_header(sheet, [r.t.gettext("MediPay earnings"),
                                 r.t.gettext("Amount") + f" ({report['currency']})"]))
    for label, kind, value in _earnings_lines(report, r):
        sheet.append([label, _xlsx_cell(sheet, "count" if kind == "count" else "money", value, report["currency"])])
    return _save(book)
