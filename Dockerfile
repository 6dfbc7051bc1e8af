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
COPY app.py config.py db.py nests.py master_player.py migrate_keys.py migrate_cluster.py ./
RUN pip install -e .

COPY config.yaml ./
COPY templates ./templates
COPY static ./static

# The generated demo library (original music, made here, never downloaded) outside the /data
# volume, so an empty MUSIC_DIR still plays something; a mounted MUSIC_DIR takes over.
RUN python -m echonest.demo_music --out /app/demo-music
ENV DEMO_MUSIC_DIR=/app/demo-music

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
