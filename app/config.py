"""Settings from the environment (prefix ``TANHUI_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "changethis"}
# OWASP's floor for argon2id: 19 MiB of memory and two passes.
MIN_HASH_TIME_COST = 2
MIN_HASH_MEMORY_KIB = 19 * 1024


def development_secret(path: Path) -> str:
    """The development secret kept in ``path`` (git-ignored), created on first use, so that
    no server ever accepts tokens signed with a secret published in the source."""
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if len(existing) >= 32:
        return existing
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANHUI_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "production"
    database_url: str = "sqlite+aiosqlite:///./tanhui.db"
    redis_url: str | None = None
    redis_prefix: str = Field(default="tanhui:", max_length=64)
    # Redis connections per worker; requests beyond it wait for a free one, up to
    # ``redis_pool_wait_seconds``, then answer 503 (busy): a wait is not an outage, so it
    # never sends authentication to the database fallback.
    redis_max_connections: int = Field(default=64, ge=1, le=10_000)
    redis_pool_wait_seconds: float = Field(default=10.0, gt=0, le=60)
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "tanhui"
    jwt_audience: str = "tanhui-api"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    timezone: str = "Asia/Shanghai"
    # The language of answers to requests whose Accept-Language names neither zh nor en.
    default_language: Literal["en", "zh-CN"] = "en"
    # Origins of H5 pages and web consoles that may call the API from a browser (a JSON list,
    # e.g. ["https://h5.example.cn"]); none by default.
    cors_origins: list[str] = Field(default_factory=list)
    # Gauges no request sets (review queue, outstanding points, pool use) are refreshed this
    # often by each worker (0 = never); the full ledger check runs every so many minutes.
    metrics_refresh_seconds: float = Field(default=60, ge=0, le=86400)
    ledger_check_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    late_window_days: int = Field(default=7, ge=0, le=366)
    future_tolerance_seconds: int = Field(default=300, ge=0, le=86400)
    points_ttl_days: int = Field(default=365, ge=1, le=3650)
    partner_timestamp_window_seconds: int = Field(default=300, ge=1, le=3600)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    log_json: bool = True
    log_level: str = "INFO"
    # Rate limits: requests per minute (0 disables the limit).
    rate_limit_citizen_per_minute: int = Field(default=600, ge=0)
    rate_limit_auth_per_minute: int = Field(default=30, ge=0)
    rate_limit_partner_per_minute: int = Field(default=1200, ge=0)
    # argon2id cost of new password hashes (RFC 9106's second recommendation by default).
    # Existing hashes carry their own cost, so changing these never locks anyone out.
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    password_hash_parallelism: int = Field(default=4, ge=1, le=16)
    # Group commit of single records (POST /v1/events): per worker, concurrent records are
    # decided together in one unit of work of up to ``record_group_max`` records, gathered
    # for at most ``record_group_wait_ms`` after the first. Off: each in its own request.
    record_group_commit: bool = True
    record_group_max: int = Field(default=64, ge=1, le=1000)
    record_group_wait_ms: float = Field(default=2.0, ge=0, le=1000)
    record_group_queue: int = Field(default=1024, ge=1, le=100_000)
    # Units of work of one worker in flight at once (PostgreSQL; SQLite runs one at a time).
    record_group_concurrency: int = Field(default=2, ge=1, le=64)
    # Redemptions of one incentive in one worker are decided in groups of up to
    # ``redemption_group_max`` citizens, one unit of work each; beyond
    # ``redemption_group_queue`` waiting requests a redemption is answered 503 at once.
    redemption_group_max: int = Field(default=128, ge=1, le=1000)
    redemption_group_queue: int = Field(default=1024, ge=1, le=100_000)
    # Refreshing is routine for every phone behind one carrier address: its own, larger budget.
    rate_limit_refresh_per_minute: int = Field(default=600, ge=0)
    # Failed sign-ins per account within the window; past it that account alone gets 429.
    login_failures_per_account: int = Field(default=10, ge=0)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=86400)
    # Where development keeps its generated JWT secret (never committed).
    dev_secret_file: str = ".tanhui-dev-secret"
    # /metrics: a bearer token that it requires; without one it is served only where
    # metrics_public allows (default: everywhere but production).
    metrics_token: SecretStr | None = None
    metrics_public: bool | None = None
    # /docs, /redoc and /openapi.json.
    docs_enabled: bool = True

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError(
                "TANHUI_DATABASE_URL must start with 'sqlite+aiosqlite://' or "
                "'postgresql+asyncpg://'"
            )
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("TANHUI_REDIS_URL must be a redis://, rediss:// or unix:// URL")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _secret_outside_development(self) -> Settings:
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if self.env == "development" and not secret:
            self.jwt_secret = SecretStr(development_secret(Path(self.dev_secret_file)))
            return self
        if secret.lower() in _PLACEHOLDER_SECRETS or len(secret) < 32:
            raise ValueError(
                "TANHUI_JWT_SECRET must be set to a random string of at least 32 characters "
                "(only TANHUI_ENV=development may run without one)"
            )
        return self

    @model_validator(mode="after")
    def _password_cost_outside_test(self) -> Settings:
        if self.password_hash_memory_kib < 8 * self.password_hash_parallelism:
            raise ValueError(
                "TANHUI_PASSWORD_HASH_MEMORY_KIB must be at least 8 per lane "
                "(8 × TANHUI_PASSWORD_HASH_PARALLELISM)"
            )
        # Tests hash thousands of passwords and lower the cost; nothing else may.
        if self.env != "test" and (
            self.password_hash_time_cost < MIN_HASH_TIME_COST
            or self.password_hash_memory_kib < MIN_HASH_MEMORY_KIB
        ):
            raise ValueError(
                f"TANHUI_PASSWORD_HASH_TIME_COST must be at least {MIN_HASH_TIME_COST} and "
                f"TANHUI_PASSWORD_HASH_MEMORY_KIB at least {MIN_HASH_MEMORY_KIB} "
                "(only TANHUI_ENV=test may use a cheaper password hash)"
            )
        return self

    @property
    def metrics_served_publicly(self) -> bool:
        if self.metrics_public is not None:
            return self.metrics_public
        return self.env != "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def jwt_key(self) -> str:
        assert self.jwt_secret is not None
        return self.jwt_secret.get_secret_value()


@lru_cache
def get_settings() -> Settings:
    return Settings()
