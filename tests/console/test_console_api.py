"""The console's HTTP side: pages with their security headers, cookie sessions that need the
CSRF header, citizens refused, and the read-only endpoints the console adds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.console.headers import SECURITY_HEADERS
from tests.helpers import PASSWORD, citizen, user_with_role
from tests.records.helpers import ago, post

STATIC = Path(__file__).resolve().parents[2] / "app" / "console" / "static"


async def console_login(client, email: str, password: str = PASSWORD):
    return await client.post("/v1/console/session", json={"email": email, "password": password})


async def signed_in(client, app, role: str):
    actor = await user_with_role(app, client, role)
    r = await console_login(client, actor.email)
    assert r.status_code == 200, r.text
    return actor, r.json()["csrf_token"]


async def test_console_page_is_served_with_strict_headers(client):
    r = await client.get("/console/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    js = await client.get("/console/js/main.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["x-content-type-options"] == "nosniff"


async def test_console_refuses_paths_outside_its_folder(client):
    for path in ("/console/../app/config.py", "/console/%2e%2e/config.py", "/console/js/nope.js"):
        r = await client.get(path)
        assert r.status_code == 404, path
    assert (await client.get("/console", follow_redirects=False)).headers["location"] == "/console/"


def test_pages_carry_no_inline_script_style_or_foreign_host():
    for path in STATIC.rglob("*"):
        if path.suffix not in (".html", ".js", ".css"):
            continue
        text = path.read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path
        if path.suffix == ".html":
            assert "<script>" not in text and " style=" not in text and " on" + "click=" not in text
        if path.suffix == ".js":
            assert "innerHTML" not in text and 'localStorage.setItem("token' not in text, path
            assert ".style." not in text and 'setAttribute("style"' not in text, path


def test_every_message_exists_in_both_languages():
    keys: set[str] = set()
    for path in (STATIC / "js").rglob("*.js"):
        keys |= set(re.findall(r'\bt\(\s*"([^"]+)"', path.read_text()))
    catalog = (STATIC / "js" / "i18n.js").read_text()
    zh, en = catalog.split("const en = {", 1)
    catalogs = (("zh", zh), ("en", en))
    missing = sorted(
        f"{lang}:{k}" for k in keys for lang, text in catalogs if f'"{k}":' not in text
    )
    assert keys and not missing


async def test_sign_in_sets_httponly_strict_cookies_and_returns_csrf(client, app):
    actor = await user_with_role(app, client, "admin")
    r = await console_login(client, actor.email)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["role"] == "admin"
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 3
    for cookie in cookies:
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered
        assert "secure" not in lowered  # plain http here; https adds Secure
    assert "access_token" not in r.text and "refresh_token" not in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_cookies_are_secure_over_https(app):
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as c:
        actor = await user_with_role(app, c, "auditor")
        r = await console_login(c, actor.email)
    assert r.status_code == 200
    assert all("secure" in x.lower() for x in r.headers.get_list("set-cookie"))


async def test_the_cookie_works_only_with_the_csrf_header(client, app):
    _, csrf = await signed_in(client, app, "admin")
    r = await client.get("/v1/admin/merchants")
    assert r.status_code == 403 and r.json()["reason"] == "csrf_failed"
    r = await client.post("/v1/admin/merchants", json={"name": "Forged"})
    assert r.status_code == 403
    r = await client.post(
        "/v1/admin/merchants", json={"name": "Forged"}, headers={"X-CSRF-Token": "x.y"}
    )
    assert r.status_code == 403
    r = await client.post(
        "/v1/admin/merchants", json={"name": "Green Grocer"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 201, r.text
    listed = await client.get("/v1/admin/merchants", headers={"X-CSRF-Token": csrf})
    assert [m["name"] for m in listed.json()["items"]] == ["Green Grocer"]


async def test_a_csrf_token_of_another_user_is_refused(client, app):
    import httpx

    _, first_csrf = await signed_in(client, app, "admin")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        _, _ = await signed_in(other, app, "admin")
        # The other browser's cookie jar, with a header (and cookie) minted for the first user.
        other.cookies.set("tanhui_console_csrf", first_csrf)
        r = await other.get("/v1/admin/merchants", headers={"X-CSRF-Token": first_csrf})
    assert r.status_code == 403


async def test_citizens_cannot_sign_in_to_the_console(client):
    person = await citizen(client)
    r = await console_login(client, person.email)
    assert r.status_code == 403
    body = r.json()
    assert body["reason"] == "console_role_refused" and "citizen" in body["detail"]
    assert not r.headers.get_list("set-cookie")
    bad = await console_login(client, person.email, "wrong-password-1")
    assert bad.status_code == 401


async def test_sign_in_needs_a_json_body(client, app):
    actor = await user_with_role(app, client, "admin")
    r = await client.post("/v1/console/session", data={"email": actor.email, "password": PASSWORD})
    assert r.status_code in (400, 422)
    assert not r.headers.get_list("set-cookie")


async def test_session_survives_a_reload_and_refresh_rotates_it(client, app):
    actor, csrf = await signed_in(client, app, "auditor")
    again = await client.get("/v1/console/session")
    assert again.status_code == 200 and again.json()["csrf_token"] == csrf
    assert again.json()["user"]["id"] == actor.id
    assert (await client.post("/v1/console/session/refresh")).status_code == 403
    r = await client.post("/v1/console/session/refresh", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    new_csrf = r.json()["csrf_token"]
    assert new_csrf != csrf
    me = await client.get("/v1/me", headers={"X-CSRF-Token": new_csrf})
    assert me.status_code == 200 and me.json()["id"] == actor.id


async def test_sign_out_revokes_the_session(client, app):
    _, csrf = await signed_in(client, app, "admin")
    token = client.cookies.get("tanhui_console")
    r = await client.delete("/v1/console/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert client.cookies.get("tanhui_console") is None
    # The token itself is dead, not only forgotten by the browser.
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_auditor_cookie_can_read_but_not_change(client, app):
    _, csrf = await signed_in(client, app, "auditor")
    headers = {"X-CSRF-Token": csrf}
    assert (await client.get("/v1/admin/merchants", headers=headers)).status_code == 200
    r = await client.post("/v1/admin/merchants", json={"name": "Nope"}, headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


async def test_dashboard_counts_today_the_queue_and_points(client, app):
    admin = await user_with_role(app, client, "admin")
    person = await citizen(client)
    await post(person, "transit.metro", {"distance_km": 10, "duration_min": 20}, at=ago(hours=1))
    await post(
        person,
        "energy.electricity_saving",
        {"baseline_kwh": 120, "actual_kwh": 100, "period_days": 30},
        at=ago(hours=1),
    )
    r = await admin.get("/v1/console/dashboard")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["review_queue"] == 1
    assert d["received_today"] == 2
    assert d["day"]["records"] == 1 and d["day"]["reduction_g"] == 467
    assert d["month"]["reduction_g"] >= 467
    assert d["points_outstanding"] == 467
    assert len(d["series"]) == 30 and d["series"][-1]["day"] == d["today"]
    assert (await person.get("/v1/console/dashboard")).status_code == 403


async def test_admin_reads_any_record_with_its_calculation(client, app):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    person = await citizen(client)
    rec = (await post(person, "transit.metro", {"distance_km": 10, "duration_min": 20})).json()
    for reader in (admin, auditor):
        r = await reader.get(f"/v1/admin/events/{rec['id']}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["user_id"] == person.id and body["breakdown"]["reduction_g"] == 467
        assert body["params_hash"] and body["local_day"]
    assert (await person.get(f"/v1/admin/events/{rec['id']}")).status_code == 403
    assert (await admin.get("/v1/admin/events/no-such-record")).status_code == 404


@pytest.mark.parametrize("factor", ["60"])
async def test_simulation_gives_current_and_proposed_by_day(client, app, factor):
    admin = await user_with_role(app, client, "admin")
    person = await citizen(client)
    await post(person, "transit.metro", {"distance_km": 10, "duration_min": 20}, at=ago(hours=1))
    current = (await admin.get("/v1/methodologies/transit.metro")).json()["params"]
    r = await admin.post(
        "/v1/admin/methodologies/transit.metro/simulate",
        json={
            "params": {**current, "reduction_g_per_pkm": factor},
            "from": ago(days=2),
            "to": ago(hours=-1),
        },
    )
    assert r.status_code == 200, r.text
    days = r.json()["by_day"]
    assert len(days) == 1
    assert days[0]["current"] == {"reduction_g": 467, "points": 467}
    assert days[0]["proposed"] == {"reduction_g": 600, "points": 600}


async def test_sign_out_acts_on_the_cookie_session_only(client, app):
    admin = await user_with_role(app, client, "admin")
    r = await client.delete("/v1/console/session", headers=admin.headers)
    assert r.status_code == 401
    assert (await admin.get("/v1/me")).status_code == 200  # the bearer token still works
    _, csrf = await signed_in(client, app, "admin")
    assert (await client.delete("/v1/console/session")).status_code == 403  # no CSRF header
    assert (await client.get("/v1/me", headers={"X-CSRF-Token": csrf})).status_code == 200
