# One image for the web server and the workers. The torch wheel pinned in requirements.txt is
# the CUDA build: it uses the host's GPUs through the NVIDIA container runtime and falls back
# to the CPU without one. (Not built on the development machine: it has no Docker engine.)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    EVOLAB_VAR_DIR=/data/var \
    MEDIA_ROOT=/data/media \
    EVOLAB_DATA_DIR=/data/datasets

WORKDIR /app
# Pango (with its FreeType part and HarfBuzz's subsetter) and a font: WeasyPrint lays out the
# run report's PDF with them; the slim image has neither.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
       libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY manage.py pyproject.toml ./
COPY evolab ./evolab
COPY workers ./workers
COPY frontend ./frontend

# var/ is made here: importing the settings creates nothing.
RUN useradd --create-home --uid 1000 evolab && mkdir -p /data/var/static && chown -R evolab /data
USER evolab
EXPOSE 8000

# web (default): migrate, then serve HTTP + websockets.
CMD ["sh", "-c", "python manage.py migrate --noinput && python -m daphne -b 0.0.0.0 -p 8000 --websocket-max-message-size 4096 --websocket-max-frame-size 4096 evolab.asgi:application"]
