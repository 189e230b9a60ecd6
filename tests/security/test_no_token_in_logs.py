"""No secret in a log or a Referer: a whole call against ``python -m app serve``, then its log is read.

Join tokens (JWTs that allow payments and refunds for hours) and invitation
tokens (which create an account) travel in URLs. The served process's access
log must show the routes but never the tokens, whether they came in the path,
in a ``Referer`` an older browser still sends, or in a socket's handshake.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.admin.factories import AdminClient
from tests.conftest import free_port
from tests.factories import Peer, consult_body

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r'data-testid="invitation-link">([^<]+)<')


def environment(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update({
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'consultpay.db'}",
        "DATA_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
        "LOG_LEVEL": "INFO",  # the access log is written at INFO
        "SHUTDOWN_TIMEOUT_SECONDS": "3",
    })
    return env


async def wait_ready(http: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        assert proc.poll() is None, log.read_text()
        try:
            async with http.get(url + "/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("not ready: " + log.read_text())


async def polling_peer(url: str, token: str, referer: str) -> Peer:
    """A socket on long-polling (its session id rides in every URL), sending the page as Referer."""
    peer = Peer()
    await peer.client.connect(url, namespaces=["/consult"], auth={"token": token}, transports=["polling"],
                              headers={"Referer": referer}, wait_timeout=5)
    return peer


async def whole_call(http: aiohttp.ClientSession, url: str, demo: dict) -> list[str]:
    """Create a consult, open both panels, pay over sockets; invite and accept a user. The secrets used."""
    async with http.post(url + "/api/v1/consults", json=consult_body(demo["clinic_id"]),
                         headers={"Authorization": f"Bearer {demo['api_key']}"}) as resp:
        assert resp.status == 201, await resp.text()
        consult = await resp.json()
    clinician, patient = consult["clinician"], consult["patients"][0]
    for person in (clinician, patient):
        async with http.get(person["join_url"]) as resp:
            page = await resp.text()
            assert resp.status == 200
            assert resp.headers["Referrer-Policy"] == "no-referrer"
            assert '<meta name="referrer" content="no-referrer">' in page and "same-origin" not in page
        # What a browser that ignored the policy would send for the page's assets.
        async with http.get(url + "/static/js/panel/config.js", headers={"Referer": person["join_url"]}) as resp:
            assert resp.status == 200

    doctor = Peer()
    await doctor.client.connect(url, namespaces=["/consult"], auth={"token": clinician["token"]},
                                transports=["websocket"], headers={"Referer": clinician["join_url"]}, wait_timeout=5)
    kari = await polling_peer(url, patient["token"], patient["join_url"])
    try:
        await doctor.wait_for("consult:state")
        await kari.wait_for("consult:state")
        ack = await doctor.call("payment:request", {"amount": 45000, "description": "Consultation"})
        assert ack["ok"], ack
        await kari.wait_for("payment:requested")
        ack = await kari.call("payment:checkout", {"request_id": ack["request"]["id"]})
        assert ack["ok"], ack
        form = {"email": "kari@example.no", "card_number": "4242 4242 4242 4242", "exp": "12/34", "cvc": "123"}
        async with http.post(ack["url"], data=form) as resp:
            assert resp.status == 200 and "/checkout/return" in str(resp.url)
        received = await doctor.wait_for("payment:received", timeout=15)
        assert received["request"]["status"] == "paid"
        sid = kari.client.get_sid("/consult")
    finally:
        await doctor.close()
        await kari.close()

    async with AdminClient(url) as admin:
        assert (await admin.sign_in(demo["admin"]["email"], demo["admin"]["password"])).status == 303
        await admin.get("/admin/users/invite")
        reply = await admin.post("/admin/users/invite", {"email": "nina@example.test", "name": "Nina",
                                                         "role": "team_member", "clinic_id": demo["clinic_id"]})
        assert reply.status == 201, reply.text
        link = LINK.search(reply.text).group(1)  # type: ignore[union-attr]
    async with AdminClient(url) as nina:
        path = link.removeprefix(url)
        page = await nina.get(path)
        assert page.status == 200
        assert '<meta name="referrer" content="no-referrer">' in page.text and "same-origin" not in page.text
        password = "a long enough new password"
        reply = await nina.post(path, {"name": "Nina", "password": password, "password_again": password})
        assert reply.status == 303
    invitation = link.rsplit("/", 1)[1]
    return [clinician["token"], patient["token"], invitation, *(x for x in [sid] if x)]


async def test_a_whole_call_leaves_no_token_in_the_log(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, port)
    seed = subprocess.run([sys.executable, "-m", "app", "seed-demo", "--json"], cwd=ROOT, env=env,
                          capture_output=True, timeout=120)
    assert seed.returncode == 0, seed.stderr.decode()
    demo = json.loads(seed.stdout)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            async with aiohttp.ClientSession() as http:
                await wait_ready(http, url, proc, log)
                secrets = await whole_call(http, url, demo)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text(errors="replace")
    # The access log was on and saw the routes ...
    assert '"GET /join/… HTTP/1.1" 200' in text, text[-3000:]
    assert '"POST /admin/invite/… HTTP/1.1" 303' in text
    assert "/socket.io/" in text
    # ... and none of the secrets, nor any Referer.
    for secret in secrets:
        assert secret not in text, f"{secret[:12]}… is in the log"
    assert "eyJ" not in text  # no JWT at all
