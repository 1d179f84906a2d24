"""The documentation pages load without any third-party host; CORS is off unless configured."""

from __future__ import annotations

import re

import pytest

ORIGIN = "https://h5.example.cn"
ASSET_TYPES = {"js": "text/javascript", "css": "text/css", "png": "image/png"}


async def test_docs_pages_load_their_assets_from_the_service(client):
    for page in ("/docs", "/redoc"):
        r = await client.get(page)
        assert r.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
        urls += re.findall(r"""url: *['"]([^'"]+)['"]""", r.text)
        assert urls, page
        assert not [u for u in urls if "//" in u], urls  # nothing from another host
        for url in urls:
            if url.startswith("/docs/assets/"):
                asset = await client.get(url)
                assert asset.status_code == 200, url
                # The file itself (some favicons are a few hundred bytes), not a page saying
                # it is missing.
                kind = ASSET_TYPES[url.rsplit(".", 1)[1]]
                assert asset.headers["content-type"].startswith(kind), (url, asset.headers)
                assert len(asset.content) > 200, url
    assert "cdn." not in (await client.get("/docs")).text
    assert "fonts.googleapis" not in (await client.get("/redoc")).text


async def test_no_cors_by_default(client):
    r = await client.options(
        "/v1/methodologies",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = await client.get("/v1/methodologies", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("settings_overrides", [{"cors_origins": [ORIGIN]}])
async def test_configured_origins_may_call_from_a_browser(client, settings_overrides):
    r = await client.options(
        "/v1/events",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, accept-language",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    r = await client.get("/v1/methodologies", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "content-language" in r.headers["access-control-expose-headers"].lower()
    other = await client.get("/v1/methodologies", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
