# One image for every role: `maas serve` (default), `maas worker`, `uvicorn app.main:app`, or a Ray node
# (`ray start`, docker-compose.yml's `cluster` profile).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MAAS_DATA_DIR=/data \
    MAAS_HOST=0.0.0.0 \
    MAAS_PORT=8000 \
    MAAS_GRPC_HOST=0.0.0.0 \
    MAAS_GRPC_PORT=8001

RUN useradd --create-home --uid 10001 maas && mkdir /data && chown maas:maas /data

WORKDIR /srv/maas
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install '.[ray,s3]'

USER maas
VOLUME ["/data"]
EXPOSE 8000 8001
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MAAS_PORT', '8000'), timeout=2)"
CMD ["maas", "serve"]
