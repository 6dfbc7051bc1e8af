# EchoNest image: one image, three roles (web, worker; Valkey comes from its own image).
# See docker-compose.yml and the README's "Docker" section.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (cached while only the code changes); only what running needs, no test
# tools, no browser. Editable, so templates/, static/ and config.yaml are read from /app.
COPY pyproject.toml README.md ./
COPY echonest ./echonest
COPY app.py config.py db.py nests.py master_player.py migrate_keys.py ./
RUN pip install -e .

COPY config.yaml ./
COPY templates ./templates
COPY static ./static

# Never root at run time; DATA_DIR is a volume the worker owns (play history when enabled).
RUN useradd --system --uid 10001 --home-dir /app echonest \
    && mkdir -p /data && chown echonest /data && chmod 0700 /data
USER echonest

ENV HOST=0.0.0.0 \
    PORT=5000 \
    DATA_DIR=/data

EXPOSE 5000

# A web process by default; the worker overrides the command (`python -m master_player`).
CMD ["sh", "-c", "exec python -m echonest.web.server --host \"$HOST\" --port \"$PORT\""]
