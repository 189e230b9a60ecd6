"""The small HTML frame shared by the hosted pages: readable on a phone,
labelled for screen readers, usable from the keyboard."""

from __future__ import annotations

from html import escape

from aiohttp import web

_CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;background:#f6f9fc;color:#1a1f36}
main{max-width:28rem;margin:0 auto;padding:1.5rem 1rem}
.card{background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:1.25rem}
h1{font-size:1.25rem;margin:0 0 .25rem}.amount{font-size:2rem;font-weight:600;margin:.25rem 0 1rem}
.muted{color:#4f566b}.badge{display:inline-block;background:#ffde92;color:#5c3b00;
border-radius:.25rem;padding:0 .4rem;font-size:.8rem;font-weight:600}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input{width:100%;font-size:1rem;padding:.6rem;border:1px solid #8792a2;border-radius:.35rem}
input:focus,button:focus,a:focus{outline:3px solid #635bff;outline-offset:2px}
.row{display:flex;gap:.75rem}.row>div{flex:1}
button{width:100%;margin-top:1.25rem;padding:.75rem;font-size:1rem;font-weight:600;
color:#fff;background:#635bff;border:0;border-radius:.35rem;cursor:pointer}
.error{background:#fde8e8;color:#8a1414;border-radius:.35rem;padding:.6rem;margin:.75rem 0}
.ok{background:#e3f9e5;color:#0e5b1b;border-radius:.35rem;padding:.6rem;margin:.75rem 0}
a{color:#4b45c6}.foot{margin-top:1rem;text-align:center;font-size:.9rem}
"""


def page(title: str, body: str, status: int = 200, lang: str = "en") -> web.Response:
    html = (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><main>{body}<p class="foot muted"><span class="badge">TEST MODE</span> '
        "Stripe sandbox — no real money moves.</p></main></body></html>"
    )
    return web.Response(status=status, text=html, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


def message_page(title: str, text: str, status: int = 200) -> web.Response:
    return page(title, f'<div class="card"><h1>{escape(title)}</h1>'
                       f'<p role="status">{escape(text)}</p></div>', status)
