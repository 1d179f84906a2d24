"""JSON logs with request id, user id and route; Prometheus metrics; a request-id middleware."""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

HTTP_REQUESTS = Counter(
    "tanhui_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tanhui_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECORDS = Counter("tanhui_records_total", "Behaviour records processed", ["methodology", "status"])
REJECTION_REASONS = Counter("tanhui_record_reasons_total", "Reasons given on records", ["reason"])
POINTS_CREDITED = Counter("tanhui_points_credited_total", "Points credited", ["methodology"])
REDUCTION_G = Counter("tanhui_reduction_grams_total", "Verified reduction, g CO2e", ["methodology"])
REDEMPTIONS = Counter("tanhui_redemptions_total", "Redemption state changes", ["event"])
RECORD_GROUP_SIZE = Histogram(
    "tanhui_record_group_size",
    "Single records decided together in one unit of work",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
)
RECORD_QUEUE_WAIT = Histogram(
    "tanhui_record_queue_wait_seconds",
    "Time a single record waited in its worker's queue before its group started",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
RECORD_GROUPS = Counter(
    "tanhui_record_groups_total",
    "Groups of single records by result (committed, retried, split, unavailable, queue_full)",
    ["result"],
)
LEDGER_CHECK_OK = Gauge(
    "tanhui_ledger_check_ok", "1 when the last ledger check was clean", multiprocess_mode="liveall"
)
LEDGER_CHECK_LAST_RUN = Gauge(
    "tanhui_ledger_check_last_run_timestamp_seconds",
    "When this worker last ran the ledger check (unix time)",
    multiprocess_mode="max",
)
RATE_LIMITED = Counter("tanhui_rate_limited_total", "Requests refused by a rate limit", ["bucket"])
REDIS_FALLBACKS = Counter(
    "tanhui_redis_fallbacks_total",
    "Times Redis could not answer and the service went on without it",
    ["what"],
)
REVIEW_QUEUE = Gauge(
    "tanhui_review_queue_depth", "Records waiting for review", multiprocess_mode="max"
)
OUTSTANDING_POINTS = Gauge(
    "tanhui_outstanding_points",
    "Points citizens hold (available and held), owed by the platform",
    ["state"],
    multiprocess_mode="max",
)
DB_POOL_IN_USE = Gauge(
    "tanhui_db_pool_connections_in_use",
    "Database connections checked out of this worker's pool",
    multiprocess_mode="livesum",
)


# What a log line must never carry, even inside an exception from a library: password
# hashes, JWTs (access and refresh tokens), bearer credentials, SQL parameters, redemption
# codes and long hex secrets (partner secrets, keyed hashes).
_SECRETS = re.compile(
    r"\$argon2(?:id|i|d)\$[\w+/=$,.-]+"
    r"|\beyJ[\w-]+\.[\w-]+\.[\w-]*"
    r"|(?i:bearer)\s+[\w.~+/=-]+"
    r"|\[parameters: [^\n]*"
    r"|\b[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}\b"
    r"|\b[0-9a-fA-F]{40,}\b"
)


def redact(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def utc_millis(record: logging.LogRecord) -> str:
    """``2026-11-25T08:30:00.123Z``: UTC, milliseconds."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": utc_millis(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key in ("user_id", "route", "method", "status", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


_PLAIN = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    logging.config.dictConfig(log_config(level, json_logs))
    # A traceback that nothing caught (at start-up, in a thread) is a log line too.
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    logging.getLogger("tanhui").critical("uncaught exception", exc_info=(kind, value, tb))


def log_config(level: str = "INFO", json_logs: bool = True) -> dict[str, Any]:
    """One logging set-up for the service and uvicorn (given to ``uvicorn.run`` so that each
    worker uses it): every line goes through our formatter, uvicorn's own included; uvicorn's
    access lines are off (RequestContextMiddleware writes one line per request)."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if json_logs else {"()": RedactingFormatter, "fmt": _PLAIN}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tanhui": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "tanhui",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


access_log = logging.getLogger("tanhui.access")


class RequestContextMiddleware:
    """Assigns a request id (or keeps a sane incoming one), times the request, counts it by
    route template, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            access_log.info(
                "%s %s %s",
                method,
                template,
                status,
                extra={
                    "route": template,
                    "method": method,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "user_id": scope["state"].get("user_id"),
                },
            )
            request_id_var.reset(token)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
