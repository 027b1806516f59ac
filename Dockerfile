FROM python:3.11-slim
WORKDIR /srv
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PROMETHEUS_MULTIPROC_DIR=/var/run/triage-metrics
COPY pyproject.toml README.md ./
COPY app app
COPY workers workers
COPY integrations integrations
COPY sandbox sandbox
RUN pip install . && mkdir -p /var/run/triage-metrics
EXPOSE 3000
CMD ["triage", "serve", "--port", "3000"]
