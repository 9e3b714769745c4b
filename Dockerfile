# taskmaster:local: taskmasterd as PID 1, and nothing else.
#
# The image holds two static binaries and no shell, no libc, no package
# manager. Build it with `make image`, which first builds bin/taskmasterd and
# bin/taskmasterctl (CGO_ENABLED=0, so they need nothing from the image).
# Use it as a base for images whose programs are static too, or copy
# /taskmasterd out of it into your own image (docs/containers.md):
#
#   COPY --from=taskmaster:local /taskmasterd /taskmasterd
#   ENTRYPOINT ["/taskmasterd"]
#
# The demo image deploy/demo/Dockerfile adds busybox to it.
FROM scratch

ARG VERSION=dev
LABEL org.opencontainers.image.title="taskmaster" \
      org.opencontainers.image.description="container-native init and process supervisor" \
      org.opencontainers.image.version="${VERSION}"

COPY bin/taskmasterd /taskmasterd
COPY bin/taskmasterctl /usr/local/bin/taskmasterctl

# A scratch image has no PATH of its own: set one, so that
# `docker exec CONTAINER taskmasterctl status` finds the client.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The job files. Mount a host directory here (-v ./jobs:/etc/taskmaster/jobs)
# and edits on the host take effect in the running container.
VOLUME ["/etc/taskmaster/jobs"]

# The control port. taskmasterd listens on 127.0.0.1:7777 unless
# TASKMASTER_LISTEN says otherwise; publishing it needs TASKMASTER_LISTEN=
# 0.0.0.0:7777 with TASKMASTER_TOKEN and TASKMASTER_ALLOW (docs/containers.md).
EXPOSE 7777

# The HTTP listener: the live dashboard at /, the live link (WebSocket) at
# /api/socket, Prometheus metrics at /metrics and a health probe at
# /healthz (docs/websocket.md). On 127.0.0.1:7780 unless TASKMASTER_HTTP
# says otherwise; beyond loopback it needs TASKMASTER_TOKEN too.
EXPOSE 7780

# SIGTERM is taskmasterd's graceful shutdown: every job gets its stopsignal.
STOPSIGNAL SIGTERM

# Healthy when every autostart job is where its job file wants it. Exec
# form: there is no shell. taskmasterctl reads TASKMASTER_ADDR and
# TASKMASTER_TOKEN from the container's environment, as taskmasterd does.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/taskmasterctl", "-timeout", "4s", "health"]

ENTRYPOINT ["/taskmasterd"]
