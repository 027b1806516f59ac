FROM python:3.11-slim
WORKDIR /srv
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PROMETHEUS_MULTIPROC_DIR=/var/run/triage-metrics
COPY pyproject.toml README.md ./
COPY app app
COPY workers workers
COPY integrations integrations
COPY sandbox sandbox
# A regular (not editable) install: the image runs from site-packages, so every file read at run
# time must be package data in pyproject.toml. tests/test_wheel_install.py builds a wheel from
# exactly these COPY lines and plays `triage demo` from it.
RUN pip install . && mkdir -p /var/run/triage-metrics
# The word table of the sentence encoder, written into the image once: every container maps the
# same file (integrations/local_embeddings.py) instead of writing its own on first use.
RUN python -c "from integrations.local_embeddings import LocalEmbedder; LocalEmbedder().warm_up()"
EXPOSE 3000
CMD ["triage", "serve", "--port", "3000"]
