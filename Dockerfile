# syntax=docker/dockerfile:1
# Apex Mediation: one image for the API (`apex serve`) and the worker (`apex worker`).
# Build: docker build -t apex-mediation:0.1.0 .

# The console's browser code, from the npm registry (console-assets/package-lock.json).
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY console-assets/package.json console-assets/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
 && mkdir -p vendor \
 && cp node_modules/htmx.org/dist/htmx.min.js vendor/htmx.min.js \
 && cp node_modules/chart.js/dist/chart.umd.min.js vendor/chart.umd.min.js

# The application and its dependencies, in a virtualenv copied whole into the final image.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/apex
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
COPY --from=assets /build/vendor ./src/apex_mediation/console/static/vendor
RUN /opt/apex/bin/pip install --upgrade pip \
 && /opt/apex/bin/pip install -c constraints.txt .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/apex/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APEX_HOST=0.0.0.0 \
    APEX_PORT=8000 \
    APEX_DATA_DIR=/var/lib/apex
RUN groupadd --system --gid 10001 apex \
 && useradd --system --uid 10001 --gid apex --home-dir /var/lib/apex --shell /usr/sbin/nologin apex \
 && mkdir -p /var/lib/apex \
 && chown apex:apex /var/lib/apex
COPY --from=build /opt/apex /opt/apex
USER 10001:10001
WORKDIR /var/lib/apex
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["apex"]
CMD ["serve"]
