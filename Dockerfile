# The petition hub: `petition-hub <command>`; by default a stream worker against HUB_BROKER.
#
#   docker build -t petition-hub .
#   docker run --rm -e HUB_BROKER=kafka://broker:9092 petition-hub            # a worker
#   docker run --rm -e HUB_BROKER=kafka://broker:9092 petition-hub topics apply
#
# docker-compose.yml runs it together with Kafka.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Unprivileged user that runs the hub.
RUN groupadd --system --gid 10001 hub \
    && useradd --system --uid 10001 --gid hub --home-dir /home/hub --create-home \
       --shell /usr/sbin/nologin hub

WORKDIR /app
COPY . /app

# Installed editable, as from a checkout: settings locate repo-root files (topics.yaml, ...)
# relative to the package, i.e. under /app. HUB_TOPICS_FILE is set as well, explicitly.
# The source tree stays root-owned and read-only for the hub; only its data dir is writable.
RUN pip install --no-cache-dir -e /app \
    && mkdir -p /app/var \
    && chown hub:hub /app/var

ENV HUB_TOPICS_FILE=/app/topics.yaml \
    HUB_DATA_DIR=/app/var \
    HUB_METRICS_PORT=9108

USER hub

# Prometheus metrics (/metrics).
EXPOSE 9108

ENTRYPOINT ["petition-hub"]
CMD ["worker"]
