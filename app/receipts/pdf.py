"""A receipt or credit note as PDF (fpdf2, pure Python), from the same ``Document`` the page shows."""

from __future__ import annotations

from fpdf import FPDF

from app.i18n import get_translator
from app.receipts.documents import Document

# The PDF core fonts cover Latin-1 (æ, ø, å, §, no-break space); other characters get a close stand-in.
_STAND_INS = str.maketrans({"\u202f": " ", "\u2009": " ", "\u2212": "-", "\u2013": "-", "\u2014": "-",
                            "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _latin1(text: str) -> str:
    return text.translate(_STAND_INS).encode("latin-1", "replace").decode("latin-1")


def render_pdf(doc: Document) -> bytes:
    t = get_translator(doc.lang)
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"{doc.title} {doc.reference}"))
    pdf.set_author(_latin1(doc.seller_name))
    pdf.set_lang(doc.lang)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(f"{doc.title} {doc.reference}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    def row(label: str, value: str) -> None:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(55, 8, _latin1(label))
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 8, _latin1(value), new_x="LMARGIN", new_y="NEXT")

    row(t.gettext("Seller"), doc.seller_name)
    if doc.registration_number:
        row(doc.registration_label, doc.registration_number)
    row(doc.number_label, doc.reference)
    if doc.original_reference:
        row(t.gettext("Corrects receipt"), doc.original_reference)
    row(doc.issued_label, doc.issued)
    row(t.gettext("Service"), doc.description)
    if doc.consult:
        row(t.gettext("For the consultation"), doc.consult)
    row(t.gettext("Amount"), doc.amount)
    row(t.gettext("Payment method"), doc.method)
    if doc.hold_authorised and doc.hold_released:
        row(t.gettext("Card hold authorised"), doc.hold_authorised)
        row(t.gettext("Released, not charged"), doc.hold_released)
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 6, _latin1(doc.vat_note), new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, _latin1(doc.retention_note), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
