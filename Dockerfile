# syntax=docker/dockerfile:1
# robot: offline anti-fraud call robot. The container runs the dialer daemon (`robot run`).
# The English demo models come from PyPI inside the image; production zh-CN models are
# mounted at /models and installed once with `robot voices install` (see README).
# Mount your SIP config at /etc/robot/sip.yaml and set ROBOT_API_TOKEN (and
# ROBOT_WEBHOOK_SECRET if webhooks are configured). The example robot.yaml serves the API on
# 127.0.0.1 only: run with host networking and a TLS reverse proxy on the host, or mount a
# robot.yaml with api.host 0.0.0.0 and api.tls (README, "Security").
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY robot ./robot
RUN python -m venv /opt/robot \
 && /opt/robot/bin/pip install --upgrade pip \
 && /opt/robot/bin/pip install .

FROM python:3.11-slim-bookworm
RUN useradd --system --create-home --home-dir /var/lib/robot robot \
 && mkdir -p /models \
 && chown robot:robot /models
COPY --from=build /opt/robot /opt/robot
COPY dialogs /etc/robot/dialogs
COPY voices /etc/robot/voices
COPY config/robot.example.yaml /etc/robot/robot.yaml
COPY sip-config/ip-trunk.example.yaml /etc/robot/sip.yaml
ENV PATH=/opt/robot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ROBOT_VOICES_DIR=/etc/robot/voices \
    ROBOT_MODELS_DIR=/models \
    ROBOT_CACHE_DIR=/var/lib/robot/prompts
VOLUME ["/models", "/var/lib/robot"]
# API; SIP; RTP (sip.yaml: transport.rtp_port_start / rtp_port_range). Host networking is
# usually simpler for SIP and RTP behind a carrier trunk.
EXPOSE 8080/tcp 5060/udp 5060/tcp 40000-41999/udp
USER robot
WORKDIR /var/lib/robot
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
# SIGTERM drains (calls finish for workers.drain_seconds); give docker stop enough time:
# docker stop --time 150. SIGHUP reloads the dialog scripts.
STOPSIGNAL SIGTERM
ENTRYPOINT ["robot"]
CMD ["run", "--config", "/etc/robot/robot.yaml"]
