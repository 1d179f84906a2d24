# Multi-stage build: wheels are built in the first stage, the runtime image has no compiler.
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    TANHUI_DATABASE_URL=sqlite+aiosqlite:////data/tanhui.db
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tanhui \
    && mkdir -p /data /app && chown tanhui /data /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
USER tanhui
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Migrate, then serve. TANHUI_WORKERS sets the number of worker processes.
CMD ["sh", "-c", "tanhui migrate && exec tanhui serve --host 0.0.0.0 --port 8000 --workers ${TANHUI_WORKERS:-1} --forwarded-allow-ips ${TANHUI_FORWARDED_ALLOW_IPS:-127.0.0.1}"]
