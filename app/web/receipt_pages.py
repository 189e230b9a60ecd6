"""A receipt's or credit note's own page, and its PDF: reachable from its link alone.

The link's key is unguessable and is not the join token, so it keeps working
after the consult ended, for as long as the document is kept. The URL names
nobody; the page is not indexed and sends no referrer.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from app.i18n import SUPPORTED, negotiate
from app.keys import DB
from app.receipts.documents import Document, load_document
from app.receipts.pdf import render_pdf
from app.web.pages import context, error_page

routes = web.RouteTableDef()


def _headers(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


async def _document(request: web.Request) -> tuple[Document | None, str]:
    token = request.match_info["token"]
    asked = request.query.get("lang")
    async with request.app[DB].read() as s:
        # The language asked for, else the consult's (the patient's).
        doc = await load_document(s, token, asked if asked in SUPPORTED else None)
    return doc, (doc.lang if doc is not None else negotiate(request.headers.get("Accept-Language")))


@routes.get("/receipts/{token}")
async def receipt_page(request: web.Request) -> web.StreamResponse:
    doc, lang = await _document(request)
    if doc is None:
        return _headers(error_page(request, lang, 404, "Receipt not found",
                                   "This receipt link is not valid. Ask the clinic for a new copy."))
    if request.query.get("format") == "pdf":
        body = render_pdf(doc)
        response = web.Response(body=body, content_type="application/pdf")
        response.headers["Content-Disposition"] = f'inline; filename="{doc.reference}.pdf"'
        return _headers(response)
    languages = [(code, code.upper()) for code in SUPPORTED if code != doc.lang]
    return _headers(aiohttp_jinja2.render_template(
        "receipt.html", request, context(doc.lang, doc=doc, languages=languages)
    ))
