"""Every test runs against SQLite and against PostgreSQL + Redis, each in a fresh database.

A migrated template database is built once per backend per test process (each pytest-xdist
worker is one); each test gets a database of its own, as the template left it (a file copy on
SQLite; on PostgreSQL a copy made with ``CREATE DATABASE … TEMPLATE``, or an earlier test's
database emptied behind it: see ``Backend``), and its own Redis key prefix; everything is
dropped afterwards.
Database names carry the run id and the worker id, so workers, and runs from other checkouts
sharing the same server, never meet; every process sweeps its own names when it ends, and
the process that started the workers sweeps the whole run's. Without ``CI=true`` the
PostgreSQL half is skipped when nothing listens; under CI it must run.

Passwords are hashed with the cheapest argon2 cost (``TEST_HASH_COST``): a test is about
behaviour, not about key stretching, and the production cost would dominate the run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from app.config import Settings
from app.db import session_scope
from app.main import create_app
from app.migrate import upgrade
from app.services.ledger.check import check as ledger_check

PG_ADMIN_URL = os.environ.get(
    "TANHUI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TANHUI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# xdist names its workers gw0, gw1 …; a plain run (and xdist's controller) is "main".
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# One id for the whole run: xdist hands the controller's test-run id to every worker
# (pytest_configure below sets it), so the controller can sweep what any worker left.
RUN_UID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
RUN_ID = f"{RUN_UID[:10]}_{WORKER}"
TEST_SECRET = "test-secret-" + "x" * 40


def _redis_root(run_uid: str) -> str:
    return f"tanhui-test:{run_uid[:10]}:"


def redis_prefix() -> str:
    """A test's own Redis key prefix, under the run's: the run sweeps them all at its end,
    whatever a server started by a test wrote after the test's own clean-up."""
    return f"{_redis_root(RUN_UID)}{uuid.uuid4().hex[:12]}:"


def _midday_zone() -> str:
    """A fixed-offset zone whose local time is now between 12:00 and 13:00.

    Daily caps and the day leaderboard count by the platform's local day. Tests post records
    hours in the past; in the platform's own zone that crosses midnight when the suite runs
    just after it, and the same test then sees two days. Running every test in a zone where
    it is midday keeps "a few hours ago" on today for the length of any run. (``Etc/GMT-N``
    is UTC+N: the sign is POSIX's.)
    """
    offset = 12 - datetime.now(UTC).hour  # -11 … +12, all of which exist
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


TEST_TIMEZONE = _midday_zone()
# Servers the tests start as processes read the same zone.
os.environ["TANHUI_TIMEZONE"] = TEST_TIMEZONE
# Only TANHUI_ENV=test accepts a cost this low (see app.config).
TEST_HASH_COST = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 8,
    "password_hash_parallelism": 1,
}


def _share_route_analysis() -> None:
    """Analyse each endpoint's signature once per test process, not once per application.

    Every test builds its own application, and FastAPI analyses a route's
    dependencies, body and response model for each application anew, the first time a
    request meets the route's router: 13.7 s of the 30.8 s of CPU that ``tests/communities``
    and ``tests/admin`` took in one process went there.
    The analysis depends only on the endpoint, its path and its dependencies, so the first
    application in a process does it and later ones reuse it; each application keeps its own
    routes, handlers, middleware, state and database. With a FastAPI whose internals differ,
    nothing is shared and the suite is merely slower.
    """
    from fastapi import routing

    build = getattr(routing, "_build_dependant_with_parameterless_dependencies", None)
    field = getattr(routing, "create_model_field", None)
    if build is None or field is None:
        return
    dependants: dict[object, object] = {}
    fields: dict[object, object] = {}

    def shared_build(*, path: str, call: object, dependencies: object) -> object:
        try:
            key = (path, call, tuple(dependencies))  # type: ignore[call-overload]
            return dependants[key]
        except TypeError:  # something unhashable: analyse it
            return build(path=path, call=call, dependencies=dependencies)
        except KeyError:
            made = dependants[key] = build(path=path, call=call, dependencies=dependencies)
            return made

    def shared_field(*args: object, **kwargs: object) -> object:
        try:
            key = (args, tuple(sorted(kwargs.items())))
            return fields[key]
        except TypeError:
            return field(*args, **kwargs)
        except KeyError:
            made = fields[key] = field(*args, **kwargs)
            return made

    routing._build_dependant_with_parameterless_dependencies = shared_build  # type: ignore[assignment]
    routing.create_model_field = shared_field  # type: ignore[assignment]


_share_route_analysis()


class _SharedCompiledCache:
    """SQLAlchemy's cache of compiled statements, shared by every engine of a test process.

    Every test builds its own engine, and an engine starts with an empty cache, so each test
    compiled every statement it ran again. The cache's key holds the engine's dialect object;
    here the dialect's class and server version stand for it, so an engine of the same
    backend finds what an earlier test compiled. Every engine here comes from
    ``app.db.make_engine`` with the same options, so the compiled form depends on nothing else
    of the engine; a statement is still executed by its own engine and dialect.
    """

    def __init__(self) -> None:
        from sqlalchemy.util import LRUCache

        self._cache: LRUCache[object, object] = LRUCache(5000)

    @staticmethod
    def _key(key: tuple[object, ...]) -> tuple[object, ...]:
        dialect = key[0]
        return (type(dialect), getattr(dialect, "server_version_info", None), *key[1:])

    def get(self, key: tuple[object, ...], default: object = None) -> object:
        return self._cache.get(self._key(key), default)

    def __setitem__(self, key: tuple[object, ...], value: object) -> None:
        self._cache[self._key(key)] = value


def _share_compiled_statements() -> None:
    """Give every engine the application makes in this process the one shared cache."""
    import app.db

    create = app.db.create_async_engine
    cache = _SharedCompiledCache()

    def create_sharing(*args: object, **kwargs: object) -> object:
        engine = create(*args, **kwargs)  # type: ignore[arg-type]
        engine.sync_engine.update_execution_options(compiled_cache=cache)
        return engine

    app.db.create_async_engine = create_sharing  # type: ignore[assignment]


_share_compiled_statements()


def _pg_base() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0]


def _services_up() -> str | None:
    """None when PostgreSQL and Redis answer, else why not."""

    async def pg() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(pg())
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable: {exc!r}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {REDIS_URL} unreachable: {exc!r}"
    return None


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{_pg_base().split('://', 1)[1]}/{name}"


def _sweep(run_id_prefix: str) -> None:
    """Drop every database whose name starts ``tanhui_t_<run_id_prefix>``: this run's only
    (the id is random per run), whatever path left it behind."""
    pattern = "tanhui_t_" + run_id_prefix.replace("_", r"\_") + "%"

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", pattern
            )
            for (name,) in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:  # nothing listens, nothing to sweep
        logging.getLogger("tests").warning("could not sweep test databases: %r", exc)


# What a test may change besides rows: tables, columns, defaults, indexes, constraints,
# triggers (and whether they fire), functions, sequences, views, grants, schemas, the
# database's settings and the migration it is at. A database whose fingerprint differs from
# the template's after a test is dropped, not reused.
_SCHEMA_FINGERPRINT = """
SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM (
  SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' '
         || coalesce(c.relacl::text, '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  UNION ALL
  SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'idx ' || indexdef FROM pg_indexes
   WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT 'con ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint
   WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  UNION ALL
  SELECT 'trg ' || pg_get_triggerdef(oid) || ' ' || tgenabled::text
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT 'fn ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT 'seq ' || schemaname || '.' || sequencename || ' ' || start_value || ' ' || increment_by
    FROM pg_sequences
  UNION ALL
  SELECT 'view ' || schemaname || '.' || viewname || ' ' || md5(definition) FROM pg_views
   WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT 'nsp ' || nspname || ' ' || coalesce(nspacl::text, '') FROM pg_namespace
  UNION ALL
  SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
  UNION ALL
  SELECT 'set ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT 'ver ' || version_num FROM alembic_version
) AS s(x)
"""


class Backend:
    """A backend's template and the databases the tests of this process get from it.

    SQLite: a copy of the template file per test. PostgreSQL: a copied database costs about
    0.3 s of the machine's CPU to create and drop (PostgreSQL copies every catalog file), more
    than most tests; so a finished test's database is emptied and handed to a later test
    instead: its rows deleted, its sequences restarted, after checking that the test changed
    nothing else (``_SCHEMA_FINGERPRINT``). A database that a test changed otherwise, or that
    cannot be emptied, is dropped and a new copy made. One thread of the process does this
    behind the tests, in order; a test takes the oldest database it has readied.
    """

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.tmp = tmp
        self.template: str | None = None
        self._fingerprint: str | None = None
        self._tables: list[str] = []
        self._sequences: list[str] = []
        self._worker: ThreadPoolExecutor | None = None
        self._ready: collections.deque[Future[str]] = collections.deque()

    def prepare(self) -> None:
        if self.name == "sqlite":
            path = self.tmp / "template.db"
            upgrade(f"sqlite+aiosqlite:///{path}")
            self.template = str(path)
            return
        name = f"tanhui_t_{RUN_ID}_tpl"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
        self.template = name
        upgrade(_pg_url(name))
        asyncio.run(self._describe_template())
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        # Two in hand: a test takes one that is ready while the previous test's is emptied.
        self._ready.extend(self._worker.submit(self._create) for _ in range(2))

    async def _describe_template(self) -> None:
        conn = await asyncpg.connect(f"{_pg_base()}/{self.template}", timeout=10)
        try:
            self._fingerprint = await conn.fetchval(_SCHEMA_FINGERPRINT)
            self._tables = [
                row[0]
                for row in await conn.fetch(
                    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            ]
            self._sequences = [
                row[0]
                for row in await conn.fetch(
                    "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences"
                )
            ]
            rows = await conn.fetchval(
                "SELECT count(*) FROM ("
                + " UNION ALL ".join(f"(SELECT 1 FROM {t} LIMIT 1)" for t in self._tables)
                + ") AS any_row"
            )
        finally:
            await conn.close()
        # Emptying restores the template only while its tables hold no rows.
        assert rows == 0, "the migrated template holds rows: emptying would not restore it"

    def teardown(self) -> None:
        """At the end of the session (not when pytest switches the ``backend`` parameter:
        the template outlives that): the databases readied for tests that never came, then
        the template."""
        if self._worker is None:
            return
        self._worker.shutdown(wait=True)
        while self._ready:
            ready = self._ready.popleft()
            if ready.exception() is None:
                self._drop(ready.result())
        self._drop(str(self.template))

    def _create(self) -> str:
        name = f"tanhui_t_{RUN_ID}_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name

    def _drop(self, name: str) -> None:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def _recycle(self, name: str) -> str:
        """The finished test's database, emptied; or, when the test changed more than rows,
        a new copy in its place."""
        try:
            if asyncio.run(self._empty(name)):
                return name
        except (OSError, asyncpg.PostgresError) as exc:
            logging.getLogger("tests").warning("could not empty %s: %r", name, exc)
        self._drop(name)
        return self._create()

    async def _empty(self, name: str) -> bool:
        await _pg_exec(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        conn = await asyncpg.connect(f"{_pg_base()}/{name}", timeout=10)
        try:
            if await conn.fetchval(_SCHEMA_FINGERPRINT) != self._fingerprint:
                return False
            async with conn.transaction():
                # Foreign keys and the append-only triggers are triggers: not fired here.
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute("".join(f"DELETE FROM {t};" for t in self._tables))
                for seq in self._sequences:
                    await conn.execute(f"ALTER SEQUENCE {seq} RESTART")
            return True
        finally:
            await conn.close()

    async def fresh_database(self, tmp_path: Path) -> str:
        if self.name == "sqlite":
            path = tmp_path / "tanhui.db"
            shutil.copyfile(str(self.template), path)
            return f"sqlite+aiosqlite:///{path}"
        assert self._worker is not None
        ready = self._ready.popleft() if self._ready else self._worker.submit(self._create)
        return _pg_url(await asyncio.wrap_future(ready))

    async def drop_database(self, url: str) -> None:
        if self.name == "postgres":
            assert self._worker is not None
            # Behind the test; a database that cannot be readied is left to the final sweep.
            self._ready.append(self._worker.submit(self._recycle, url.rsplit("/", 1)[1]))


_backends: dict[str, Backend] = {}


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    name = request.param
    if name == "postgres":
        why = _services_up()
        if why:
            if IN_CI:
                pytest.fail(f"CI=true but the PostgreSQL + Redis tests cannot run: {why}")
            pytest.skip(why)
    if name not in _backends:
        b = Backend(name, tmp_path_factory.mktemp(name))
        b.prepare()
        _backends[name] = b
    yield _backends[name]


def make_settings(backend: Backend, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "redis_url": REDIS_URL if backend.name == "postgres" else None,
        "redis_prefix": redis_prefix(),
        "jwt_secret": TEST_SECRET,
        "timezone": TEST_TIMEZONE,
        "log_json": False,
        "rate_limit_citizen_per_minute": 0,
        "rate_limit_auth_per_minute": 0,
        "rate_limit_partner_per_minute": 0,
        # A test that wants the scheduled gauges turns them on; others count their statements.
        "metrics_refresh_seconds": 0,
        **TEST_HASH_COST,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def database_url(backend: Backend, tmp_path: Path) -> AsyncIterator[str]:
    url = await backend.fresh_database(tmp_path)
    yield url
    await backend.drop_database(url)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module (or with indirect parametrisation) to change settings."""
    return {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ledger_tampered: the test breaks the ledger on purpose; skip the final check"
    )
    if WORKER == "main":
        if getattr(config.option, "testrunuid", "") is None:
            config.option.testrunuid = RUN_UID  # what xdist gives its workers
        # ``timeout`` and CI runners stop a run with SIGTERM, which would end this process
        # before any teardown; as an interrupt, the session still finishes (and sweeps).
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(trylast=True)  # after xdist has stopped its workers
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the templates, then sweep this run's databases: a worker its own, a plain run or
    xdist's controller (which gets here after every worker has ended, however it ended) the
    whole run's."""
    for b in _backends.values():
        with contextlib.suppress(OSError, asyncpg.PostgresError):  # the sweep tries again
            b.teardown()
    prefixes = {f"{RUN_ID}_"}
    if WORKER == "main":
        prefixes.add(f"{(getattr(session.config.option, 'testrunuid', None) or RUN_UID)[:10]}_")
    for prefix in prefixes:
        _sweep(prefix)
    if WORKER == "main":  # the Redis keys of every worker and server of the run
        run_uid = getattr(session.config.option, "testrunuid", None) or RUN_UID
        with contextlib.suppress(redis.RedisError):
            r = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
            for key in r.scan_iter(match=_redis_root(run_uid) + "*", count=1000):
                r.delete(key)


@pytest.fixture
async def app(
    request: pytest.FixtureRequest,
    backend: Backend,
    database_url: str,
    settings_overrides: dict[str, object],
):
    application = create_app(make_settings(backend, database_url, **settings_overrides))
    async with application.router.lifespan_context(application):
        yield application
        if request.node.get_closest_marker("ledger_tampered") is None:
            # Whatever the test did, the ledger must still prove itself.
            async with session_scope(application.state.sessionmaker) as session:
                result = await ledger_check(session)
            assert result["ok"], f"ledger check failed after the test: {result}"
        kv = application.state.kv
        if hasattr(kv, "redis"):
            with contextlib.suppress(redis.RedisError):  # a test may point at a dead Redis
                await kv.redis.eval(
                    "for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
                    0,
                    kv.prefix + "*",
                )


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
