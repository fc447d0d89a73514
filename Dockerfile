# syntax=docker/dockerfile:1
# Build: docker build -t oneexam .
# Run:   docker run -p 8000:8000 -e ONEEXAM_ADMIN_KEY=... -e ONEEXAM_PII_KEY=... oneexam

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Dependencies first, in their own layer: it is rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 oneexam \
 && useradd --system --uid 10001 --gid oneexam --home-dir /data --create-home oneexam
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ONEEXAM_HOST=0.0.0.0 \
    ONEEXAM_PORT=8000 \
    ONEEXAM_DATABASE_URL=sqlite:////data/oneexam.db
USER oneexam
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# No HEALTHCHECK in the image: the same image runs `migrate` and `worker`, which listen on
# nothing; compose.yaml checks the api service (and an orchestrator should probe /readyz).
CMD ["sh", "-c", "oneexam migrate && exec oneexam serve"]
