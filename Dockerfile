# neon-cluster-manager: one replica on a Swarm manager, with /var/run/docker.sock mounted.
FROM python:3.11-slim-bookworm

# tini is PID 1: it forwards SIGTERM to the service and reaps zombies.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/neon-cluster-manager
COPY setup.py pyproject.toml neon_cm_main.py ./
COPY actors/ actors/
COPY messages/ messages/
COPY neon_cm/ neon_cm/
RUN pip install --no-cache-dir .

# The service runs as root only to reach docker.sock, which belongs to root on a manager.
ENV LOG_LEVEL=INFO
STOPSIGNAL SIGTERM
# Unhealthy when an actor is dead, no node listing succeeded for three poll intervals, or the service hangs.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["neon-cluster-manager", "health"]
ENTRYPOINT ["/usr/bin/tini", "--", "neon-cluster-manager"]
