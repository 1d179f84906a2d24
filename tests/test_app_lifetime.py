"""An application holds its engine, pool and caches; once nothing uses it, it must be freed.

FastAPI keeps every endpoint it has analysed in process-wide caches; an endpoint defined as
a closure over the application (a docs page reading its title) kept each application alive,
and a process that builds many (the test suite) grew by a megabyte per test.
"""

from __future__ import annotations

import gc
import weakref

import httpx

from app.config import Settings
from app.main import create_app
from tests.conftest import TEST_HASH_COST, TEST_SECRET


async def test_an_application_is_freed_once_nothing_uses_it(tmp_path):
    settings = Settings(  # type: ignore[call-arg]
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        jwt_secret=TEST_SECRET,
        **TEST_HASH_COST,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for page in ("/docs", "/redoc", "/openapi.json", "/healthz"):
            assert (await client.get(page)).status_code == 200, page
    freed = weakref.ref(app)
    del app, transport, client
    gc.collect()
    assert freed() is None
