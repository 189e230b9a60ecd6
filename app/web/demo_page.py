"""``/demo``: a mock call with both panels side by side, for newcomers and sales."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from app import demo_seed as demo
from app.commands import CreateConsult
from app.config import Settings
from app.i18n import get_translator, negotiate
from app.keys import CONSULTS, DB, MEDIPAY_ACCOUNTS, ORGANISATIONS, SERVICES, SETTINGS, STRIPE, STRIPE_SANDBOX_APP
from app.models import Consult
from app.web.pages import context

routes = web.RouteTableDef()
# ``/demo?policy=…``: a consult whose patient pays before joining, has a card held, or saves a card, in the
# waiting room. The amount is what is paid, the most held, or what the patient is told to expect.
DEMO_POLICIES = {"before_join": 45000, "hold": 80000, "card_on_file": 60000}


def _vipps_phone(settings: Settings) -> str | None:
    """The Vipps sandbox's phone page of the demo patient's number, when the demo talks to the sandbox."""
    if "vipps" not in settings.sandboxes or settings.vipps_base != settings.vipps_sandbox_url:
        return None
    digits = "".join(c for c in str(demo.PATIENT["mobile"]) if c.isdigit())
    return f"{settings.vipps_sandbox_url}/phone/{digits}"


@routes.get("/demo")
async def demo_page(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    chosen = request.query.get("lang")
    lang = negotiate(chosen or request.headers.get("Accept-Language"))
    # A language asked for in the address goes on to both panels (they follow the browser otherwise).
    suffix = f"?lang={lang}" if chosen else ""
    policy = request.query.get("policy")
    policy = policy if policy in DEMO_POLICIES else None
    await demo.seed(
        settings, app[DB], app[ORGANISATIONS], app[STRIPE],
        onboard=lambda acct: demo.onboard_in_sandbox(settings, acct, app.get(STRIPE_SANDBOX_APP)),
        medipay_accounts=app[MEDIPAY_ACCOUNTS], vipps_merchants=app[SERVICES].vipps_merchants,
    )
    consult = await app[CONSULTS].create(
        demo.ORG_ID,
        CreateConsult.parse({
            "clinic_id": demo.CLINIC_ID,
            "external_id": "demo-call",
            "clinician": demo.CLINICIAN,
            "patients": [demo.PATIENT],
            "language": lang,
            **({"payment_policy": {"kind": policy, "amount": DEMO_POLICIES[policy],
                                   "description": get_translator(lang).gettext("Consultation")}} if policy else {}),
        }),
    )
    async with app[DB].read() as s:
        active = await s.scalar(select(Consult.id).where(Consult.id == consult.id))
    assert active
    response = aiohttp_jinja2.render_template(
        "demo.html",
        request,
        context(
            lang,
            clinician_url=consult.clinician.join_url + suffix,
            patient_url=consult.patients[0].join_url + suffix,
            consult_id=consult.id,
            api_docs_url="/api/v1/openapi.json",
            vipps_phone_url=_vipps_phone(settings),
            policy=policy,
            lang_query=f"&lang={lang}" if chosen else "",
        ),
    )
    response.headers["Cache-Control"] = "no-store"
    return response
