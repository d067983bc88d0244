# neon-cluster-manager: one replica on a Swarm manager, reaching Docker through the stack's read-only proxy
# (deploy/neon-cluster-manager.yml) or, deployed with one `docker service create`, the manager's docker.sock mounted.
# Build it with scripts/image: it prepares the context this file expects (wheels/deps/: the pinned dependencies'
# wheels; wheels/service/: the service's wheel; debs/: Debian's tini) and builds with no network at all.
FROM python:3.11-slim-bookworm AS build

COPY debs/ /build/debs/
COPY wheels/deps/ /build/deps/
# The pinned dependencies (cached until constraints.txt changes), then the service's own wheel. Everything that
# ships is laid out under /rootfs to become one layer of the final image: the service in its own virtualenv
# (no pip in it), and tini's static build as /usr/bin/tini.
RUN python -m venv --without-pip /opt/neon-cluster-manager \
    && pip --python /opt/neon-cluster-manager/bin/python install --no-cache-dir --no-index --no-deps /build/deps/*.whl \
    && dpkg-deb -x /build/debs/tini_*.deb /build/tini
COPY wheels/service/ /build/service/
RUN pip --python /opt/neon-cluster-manager/bin/python install --no-cache-dir --no-index \
        --find-links /build/deps /build/service/neon_cluster_manager-*.whl \
    && mkdir -p /rootfs/usr/bin /rootfs/opt \
    && cp /build/tini/usr/bin/tini-static /rootfs/usr/bin/tini \
    && cp -a /opt/neon-cluster-manager /rootfs/opt/

FROM python:3.11-slim-bookworm
COPY --from=build /rootfs/ /
ENV PATH=/opt/neon-cluster-manager/bin:$PATH \
    LOG_LEVEL=INFO
# Not root, and no group: the stack's proxy socket is this user's; a mounted docker.sock is reached through its group,
# given at deployment (`docker service create --group <docker.sock's gid>`). Docker secrets are 0444 by default (the
# stack file makes them 0400, this user's).
USER 10001:10001
# tini is PID 1: it forwards Swarm's SIGTERM to the service and reaps zombies.
STOPSIGNAL SIGTERM
# Unhealthy when an actor is dead, no node listing succeeded for three poll intervals, or the service hangs.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["neon-cluster-manager", "health"]
ENTRYPOINT ["/usr/bin/tini", "--", "neon-cluster-manager"]
