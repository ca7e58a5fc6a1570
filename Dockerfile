# syntax=docker/dockerfile:1
# robot: offline anti-fraud call robot.
# The English demo models come from PyPI inside the image; production zh-CN models are
# mounted at /models and installed once with `robot voices install` (see README).
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
ENV PATH=/opt/robot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ROBOT_VOICES_DIR=/etc/robot/voices \
    ROBOT_MODELS_DIR=/models \
    ROBOT_CACHE_DIR=/var/lib/robot/prompts
VOLUME ["/models", "/var/lib/robot"]
USER robot
WORKDIR /var/lib/robot
# Until the dialer daemon exists, the image checks the scripts and lists the speech models.
ENTRYPOINT ["robot"]
CMD ["dialogs", "check", "/etc/robot/dialogs"]
