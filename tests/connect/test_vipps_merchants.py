"""*Client payments > Vipps*, as admins use it: keys checked with Vipps before they are saved, sealed,
the merchant's webhook registered, on/off, removal, and every refusal changing nothing.

Vipps is the built-in sandbox over HTTP: ``POST /_control/merchants`` gives a test merchant its keys,
its Webhooks API says which webhooks are registered, and its fault injection plays Vipps being down.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app import demo_seed
from app.collection.secret_box import SecretBox
from app.connect.vipps_merchants import vipps_keys_for_clinic, vipps_merchant_by_msn
from app.keys import DB, MEDIPAY_ACCOUNTS, ORGANISATIONS, SERVICES, STRIPE
from app.models import AuditEvent, VippsMerchant
from integrations.vipps.protocol import EPAYMENT_EVENTS
from tests.admin.factories import make_clinic, make_user, signed_in
from tests.factories import Live


def page(clinic_id: str) -> str:
    return f"/admin/clinics/{clinic_id}/client-payments/vipps"


async def new_merchant(live: Live) -> dict[str, str]:
    assert live.http
    async with live.http.post(f"{live.settings.vipps_base}/_control/merchants") as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


def form(keys: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {name: keys[name] for name in ("merchant_serial_number", "client_id", "client_secret",
                                          "subscription_key")} | changes


async def registered_webhooks(live: Live, keys: dict[str, str]) -> list[dict[str, Any]]:
    """The merchant's webhooks, asked of Vipps' Webhooks API with the merchant's own keys."""
    assert live.http
    base = live.settings.vipps_base
    common = {"Ocp-Apim-Subscription-Key": keys["subscription_key"],
              "Merchant-Serial-Number": keys["merchant_serial_number"]}
    async with live.http.post(f"{base}/accesstoken/get", headers={
            **common, "client_id": keys["client_id"], "client_secret": keys["client_secret"]}) as resp:
        assert resp.status == 200, await resp.text()
        token = (await resp.json())["access_token"]
    async with live.http.get(f"{base}/webhooks/v1/webhooks",
                             headers={**common, "Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["webhooks"])


async def vipps_down(live: Live, n: int = 1, path: str = "/accesstoken") -> None:
    assert live.http
    async with live.http.post(f"{live.settings.vipps_base}/_control/faults",
                              json={"kind": "server_error", "next": n, "path": path}) as resp:
        assert resp.status < 300, await resp.text()


async def merchant_of(live: Live, clinic_id: str) -> VippsMerchant | None:
    return await live.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id))


async def count_merchants(live: Live, clinic_id: str) -> int:
    return int(await live.scalar(select(func.count()).select_from(VippsMerchant).where(
        VippsMerchant.clinic_id == clinic_id)))


async def test_admin_saves_keys_vipps_accepted_sealed_with_the_webhook_registered(live: Live) -> None:
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Fjordklinikken")
    admin = await make_user(live, "organisation_admin")
    keys = await new_merchant(live)
    async with await signed_in(live, admin) as browser:
        shown = await browser.get(page(clinic.id))
        assert shown.status == 200 and 'data-status="none"' in shown.text
        overview = await browser.get(f"/admin/clinics/{clinic.id}/client-payments")
        assert 'data-testid="vipps-settings"' in overview.text and "Add Vipps" in overview.text

        # A wrong secret: Vipps refuses it, the admin is told so, and nothing is saved or registered.
        wrong = await browser.post(page(clinic.id), form(keys, client_secret="not-the-secret"))
        assert wrong.status == 422
        assert "Vipps did not accept the keys." in wrong.text and 'aria-invalid="true"' in wrong.text
        assert "not-the-secret" not in wrong.text
        # Vipps down: a clear "try again", nothing saved.
        await vipps_down(live)
        down = await browser.post(page(clinic.id), form(keys))
        assert down.status == 503 and "Vipps could not be reached, so nothing was saved." in down.text
        assert await count_merchants(live, clinic.id) == 0 and await registered_webhooks(live, keys) == []

        # The right keys: checked, saved, the green check, on in the call.
        saved = await browser.post(page(clinic.id), form(keys), follow=True)
        assert saved.status == 200 and "Vipps accepted the keys. They are saved" in saved.text
        assert 'data-status="active"' in saved.text and "✓" in saved.text and 'data-offered="yes"' in saved.text
        for secret in (keys["client_secret"], keys["subscription_key"]):
            assert secret not in saved.text
        listing = await browser.get(f"/admin/clinics/{clinic.id}/client-payments")
        assert 'data-status="active"' in listing.text.split('id="vipps"', 1)[1].split("</section>", 1)[0]

    row = await merchant_of(live, clinic.id)
    assert row is not None and (row.status, row.enabled, row.merchant_serial_number, row.client_id) == (
        "active", True, keys["merchant_serial_number"], keys["client_id"])
    assert row.verified_at is not None and row.last_error is None and row.organisation_id == clinic.organisation_id
    # Sealed at rest: no column holds a secret in clear, and the app's key opens them again.
    stored = " ".join(str(v) for v in (await live.rows(select(VippsMerchant.__table__).where(
        VippsMerchant.clinic_id == clinic.id)))[0])
    assert keys["client_secret"] not in stored and keys["subscription_key"] not in stored
    box = SecretBox(live.settings.secret_key)
    assert box.reveal(row.client_secret_encrypted) == keys["client_secret"]
    assert box.reveal(row.subscription_key_encrypted) == keys["subscription_key"]

    # The merchant's ePayment webhook, at Vipps, to the app's webhook address; its secret kept sealed.
    hooks = await registered_webhooks(live, keys)
    assert [(h["id"], h["url"], sorted(h["events"])) for h in hooks] == [
        (row.webhook_id, f"{live.url}/webhooks/vipps", sorted(EPAYMENT_EVENTS))]
    assert row.webhook_secret_encrypted and box.reveal(row.webhook_secret_encrypted)

    # What the payment side reads: the keys of an active, enabled merchant; the secret by MSN.
    async with live.app[DB].read() as s:
        found = await vipps_keys_for_clinic(s, clinic.id, box)
        by_msn = await vipps_merchant_by_msn(s, keys["merchant_serial_number"], box)
    assert found is not None and found[0].client_secret == keys["client_secret"]
    assert found[0].merchant_serial_number == keys["merchant_serial_number"] and found[1].id == row.id
    assert by_msn is not None and by_msn[0].id == row.id and by_msn[1] == box.reveal(row.webhook_secret_encrypted)

    actions = await live.rows(select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.details).where(
        AuditEvent.subject_id == row.id))
    assert [(a, actor) for a, actor, _ in actions] == [("vipps_merchant.saved", admin.id)]
    assert keys["client_secret"] not in str(actions)


async def test_switch_replace_and_remove(live: Live) -> None:
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Bryggeklinikken")
    admin = await make_user(live, "clinic_admin", clinic_id=clinic.id)
    first, second = await new_merchant(live), await new_merchant(live)
    box = SecretBox(live.settings.secret_key)
    async with await signed_in(live, admin) as browser:
        await browser.get(page(clinic.id))
        # Added switched off: saved and verified, but not offered in the call.
        off = await browser.post(page(clinic.id), form(first, enabled="no"), follow=True)
        assert "Vipps is off for this clinic" in off.text and 'data-offered="no"' in off.text
        async with live.app[DB].read() as s:
            assert await vipps_keys_for_clinic(s, clinic.id, box) is None

        on = await browser.post(page(clinic.id) + "/enabled", {"enabled": "yes"}, follow=True)
        assert "Vipps is on" in on.text and 'data-offered="yes"' in on.text
        assert (await merchant_of(live, clinic.id)).enabled is True
        async with live.app[DB].read() as s:
            assert await vipps_keys_for_clinic(s, clinic.id, box) is not None
        bad = await browser.post(page(clinic.id) + "/enabled", {"enabled": "maybe"}, follow=True)
        assert "Choose whether Vipps is on or off." in bad.text and (await merchant_of(live, clinic.id)).enabled

        # Replaced by another merchant: its webhook registered, the old one deleted at Vipps; the switch kept.
        old_hook = (await merchant_of(live, clinic.id)).webhook_id
        replaced = await browser.post(page(clinic.id), form(second), follow=True)
        assert "Vipps accepted the keys" in replaced.text
        row = await merchant_of(live, clinic.id)
        assert row.merchant_serial_number == second["merchant_serial_number"] and row.enabled
        assert await registered_webhooks(live, first) == []
        assert [h["id"] for h in await registered_webhooks(live, second)] == [row.webhook_id] != [old_hook]

        # Saving again with the secrets left empty keeps them (they are never shown back).
        kept = await browser.post(page(clinic.id), form(second, client_secret="", subscription_key=""), follow=True)
        assert "Vipps accepted the keys" in kept.text and second["client_secret"] not in kept.text
        assert box.reveal((await merchant_of(live, clinic.id)).client_secret_encrypted) == second["client_secret"]
        verified = await browser.post(page(clinic.id) + "/verify", {}, follow=True)
        assert "Vipps accepted the keys." in verified.text

        # Remove asks first and changes nothing until confirmed.
        asked = await browser.post(page(clinic.id) + "/remove", {})
        assert asked.status == 200 and "Remove Vipps from the clinic?" in asked.text
        assert second["merchant_serial_number"] in asked.text and await merchant_of(live, clinic.id) is not None
        await vipps_down(live, path="/webhooks")
        refused = await browser.post(page(clinic.id) + "/remove", {"confirm": "yes"})
        assert refused.status == 503 and "nothing was removed" in refused.text
        assert await merchant_of(live, clinic.id) is not None
        removed = await browser.post(page(clinic.id) + "/remove", {"confirm": "yes"}, follow=True)
        assert "Vipps was removed from the clinic." in removed.text and 'data-status="none"' in removed.text
    assert await merchant_of(live, clinic.id) is None
    assert await registered_webhooks(live, second) == []
    actions = [a for (a,) in await live.rows(select(AuditEvent.action).where(
        AuditEvent.subject_type == "vipps_merchant", AuditEvent.clinic_id == clinic.id).order_by(AuditEvent.id))]
    assert actions == ["vipps_merchant.saved", "vipps_merchant.enabled", "vipps_merchant.saved",
                       "vipps_merchant.saved", "vipps_merchant.verified", "vipps_merchant.removed"]
    async with await signed_in(live, admin) as browser:
        trail = await browser.get("/admin/audit")
    assert f"removed Vipps merchant {second['merchant_serial_number']} from the clinic" in trail.text


async def test_bad_input_gets_a_clear_error_and_saves_nothing(live: Live) -> None:
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Elveklinikken")
    other = await make_clinic(live, live.demo["organisation_id"], name="Sjøklinikken")
    admin = await make_user(live, "organisation_admin")
    keys = await new_merchant(live)
    async with await signed_in(live, admin) as browser:
        await browser.get(page(clinic.id))
        cases = [
            (form(keys, merchant_serial_number="12ab56"), "The merchant serial number is 4 to 10 digits"),
            (form(keys, merchant_serial_number=""), "Enter the merchant serial number"),
            (form(keys, client_id="  "), "Enter the client id"),
            (form(keys, client_secret=""), "Enter the client secret"),
            (form(keys, subscription_key=""), "Enter the subscription key"),
            (form(keys, client_id="x" * 500), "The client id is too long"),
            (form(keys, client_secret="bad\x01secret"), "The client secret is too long or has characters"),
            ({}, "Enter the merchant serial number"),
        ]
        for data, message in cases:
            reply = await browser.post(page(clinic.id), data)
            assert reply.status == 422 and message in reply.text, (data, reply.status)
            assert 'role="alert"' in reply.text
        assert await count_merchants(live, clinic.id) == 0
        # Toggling, checking or removing what does not exist says so.
        for action in ("/enabled", "/verify", "/remove"):
            reply = await browser.post(page(clinic.id) + action, {"enabled": "yes"}, follow=True)
            assert reply.status == 200 and "This clinic has no Vipps merchant yet." in reply.text
        # One MSN, one clinic: a webhook names only the MSN.
        assert (await browser.post(page(clinic.id), form(keys))).status == 303
        await browser.get(page(other.id))
        taken = await browser.post(page(other.id), form(keys))
        assert taken.status == 409 and "Another clinic already uses this merchant serial number." in taken.text
    assert await merchant_of(live, other.id) is None and len(await registered_webhooks(live, keys)) == 1


async def test_bokmal_page_and_errors(live: Live) -> None:
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Lysklinikken")
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        shown = await browser.get(page(clinic.id))
        assert "Salgsstedsnummer (MSN)" in shown.text and "Kontroller og lagre" in shown.text
        reply = await browser.post(page(clinic.id), {"merchant_serial_number": "abc"})
        assert reply.status == 422 and "Salgsstedsnummeret er 4 til 10 sifre" in reply.text


async def test_csrf_and_roles_are_checked(live: Live) -> None:
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Vikklinikken")
    keys = await new_merchant(live)
    team_member = await make_user(live, "team_member", clinic_id=clinic.id)
    other_clinic_admin = await make_user(live, "clinic_admin")  # the demo clinic's admin
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get(page(clinic.id))
        forged = await browser.post(page(clinic.id), form(keys), csrf="forged-token")
        assert forged.status == 403
        assert (await browser.post(page(clinic.id), form(keys), csrf=False)).status == 403
    for user in (team_member, other_clinic_admin):
        async with await signed_in(live, user) as browser:
            assert (await browser.get(page(clinic.id))).status == 403
            assert (await browser.post(page(clinic.id), form(keys))).status == 403
    assert await count_merchants(live, clinic.id) == 0 and await registered_webhooks(live, keys) == []
    async with await signed_in(live, admin) as browser:
        await browser.get(page(clinic.id))
        assert (await browser.post(page(clinic.id), form(keys))).status == 303
    for user in (team_member, other_clinic_admin):
        async with await signed_in(live, user) as browser:
            for action, data in (("/enabled", {"enabled": "no"}), ("/remove", {"confirm": "yes"})):
                assert (await browser.post(page(clinic.id) + action, data)).status == 403
    row = await merchant_of(live, clinic.id)
    assert row is not None and row.enabled and len(await registered_webhooks(live, keys)) == 1


async def test_the_demo_clinic_has_the_sandbox_demo_merchant(live: Live) -> None:
    from integrations.vipps.sandbox.keys import DEMO_KEYS

    demo = {"merchant_serial_number": DEMO_KEYS.merchant_serial_number, "client_id": DEMO_KEYS.client_id,
            "client_secret": DEMO_KEYS.client_secret, "subscription_key": DEMO_KEYS.subscription_key}
    box = SecretBox(live.settings.secret_key)
    row = await merchant_of(live, live.demo["clinic_id"])
    assert row is not None and (row.status, row.enabled, row.merchant_serial_number) == (
        "active", True, DEMO_KEYS.merchant_serial_number)
    async with live.app[DB].read() as s:
        found = await vipps_keys_for_clinic(s, live.demo["clinic_id"], box)
    assert found is not None and found[0] == DEMO_KEYS
    assert [h["id"] for h in await registered_webhooks(live, demo)] == [row.webhook_id]
    # Seeding again (every /demo visit does) keeps the one merchant and its one webhook.
    await demo_seed.seed(live.settings, live.app[DB], live.app[ORGANISATIONS], live.app[STRIPE],
                         medipay_accounts=live.app[MEDIPAY_ACCOUNTS],
                         vipps_merchants=live.app[SERVICES].vipps_merchants)
    assert (await merchant_of(live, live.demo["clinic_id"])).webhook_id == row.webhook_id
    assert len(await registered_webhooks(live, demo)) == 1
