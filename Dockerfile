# syntax=docker/dockerfile:1
# robot: offline anti-fraud call robot.
# Speech models are not baked in: mount them at /models (see README).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY robot ./robot
RUN python -m venv /opt/robot \
 && /opt/robot/bin/pip install --upgrade pip \
 && /opt/robot/bin/pip install .

FROM python:3.11-slim-bookworm
RUN useradd --system --create-home --home-dir /var/lib/robot robot
COPY --from=build /opt/robot /opt/robot
COPY dialogs /etc/robot/dialogs
ENV PATH=/opt/robot/bin:$PATH \
    PYTHONUNBUFFERED=1
VOLUME ["/models", "/var/lib/robot"]
USER robot
WORKDIR /var/lib/robot
# Until the dialer daemon exists, the image validates the mounted or shipped scripts.
ENTRYPOINT ["robot"]
CMD ["dialogs", "check", "/etc/robot/dialogs"]
