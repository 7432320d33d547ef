# The petition hub: `petition-hub <command>`; by default a stream worker against HUB_BROKER.
#
#   docker build -t petition-hub .
#   docker run --rm -e HUB_BROKER=kafka://broker:9092 petition-hub            # a worker
#   docker run --rm -e HUB_BROKER=kafka://broker:9092 petition-hub topics apply
#
# docker-compose.yml runs it together with Kafka.

# --- build: the hub's wheel, from the sources ------------------------------------------------------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY . /src
RUN pip wheel --no-deps --wheel-dir /dist /src

# --- run: the wheel installed, no sources -----------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Unprivileged user that runs the hub.
RUN groupadd --system --gid 10001 hub \
    && useradd --system --uid 10001 --gid hub --home-dir /home/hub --create-home \
       --shell /usr/sbin/nologin hub

# Everything the hub reads at run time (topics.yaml, rules, policies, schemas, calendar) is
# package data inside the wheel: settings find it there, from any folder. The installed package
# is root-owned and read-only for the hub; only its data dir is writable.
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/petition_hub-*.whl \
    && rm -rf /tmp/dist \
    && mkdir -p /app/var \
    && chown hub:hub /app/var

WORKDIR /app
ENV HUB_DATA_DIR=/app/var \
    HUB_METRICS_PORT=9108

USER hub

# Prometheus metrics (/metrics).
EXPOSE 9108

ENTRYPOINT ["petition-hub"]
CMD ["worker"]
