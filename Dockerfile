# The digit recognition service: gunicorn + Flask + TensorFlow (CPU), serving the model in models/.
#   docker build -t digits .
#   docker run -p 8000:8000 digits                                  # the shipped model
#   docker run -p 8000:8000 -v /path/models:/app/models digits      # another MODEL_DIR (numbered folders)
#   docker run -p 9000:9000 -e PORT=9000 -e WORKERS=4 digits

# Stage 1: the dependencies in a virtual environment, slimmed. Rebuilt only when the list changes.
FROM python:3.11-slim AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
COPY requirements-docker.txt /tmp/
# TensorFlow's C++ headers are for building extensions, and its symbol tables for debuggers:
# neither is needed to serve, and together they are about half a gigabyte.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -r /tmp/requirements-docker.txt \
    && cd "$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tensorflow" \
    && rm -rf include \
    && find . -name '*.so*' -type f -exec strip --strip-unneeded {} +

# Stage 2: the service.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2
COPY --from=deps /opt/venv /opt/venv

WORKDIR /app
COPY pyproject.toml README.md* ./
COPY app ./app
COPY templates ./templates
COPY static ./static
# Editable: the code stays in /app, where the app finds templates/, static/ and models/.
RUN pip install --no-deps --no-build-isolation -e . \
    && useradd --create-home --uid 10001 digits
COPY models ./models

USER digits
ENV HOST=0.0.0.0 PORT=8000 WORKERS=2 MODEL_DIR=/app/models
# The shipped model compiled now, into the digits user's cache folder (app/litert.py): a container serving it
# starts in about a second, without the compiling process's few hundred MB. A mounted MODEL_DIR is compiled
# at start.
RUN python -c "from app import litert; litert.compile_newest()"
EXPOSE 8000
# No curl in a slim image: Python asks /healthz. The start period covers compiling a mounted model.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
# `digits serve` runs gunicorn with HOST, PORT and WORKERS from the environment.
CMD ["digits", "serve"]
