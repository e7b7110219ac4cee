# One image for the matching service and every Airflow component (api-server, scheduler,
# dag-processor, triggerer), so DAG tasks and the consumer always run the same code.
#
#   docker build -t riec-signals:0.1.0 .
#
# Built on the official Airflow image: it brings Airflow with the FAB auth manager, the
# PostgreSQL driver, curl for health checks and dumb-init for signal handling.

ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION

USER root
# Working directory of the RIEC code (hit lists, rejects); a named volume is mounted here.
# Group 0 with write access keeps the image usable under an arbitrary UID.
RUN mkdir -p /var/lib/riec/hitlists \
    && chown -R airflow:0 /var/lib/riec \
    && chmod -R g+rwX /var/lib/riec
USER airflow

WORKDIR /opt/airflow/riec-src

# Dependencies first, from pyproject.toml alone: this layer stays cached while only our
# code changes. Pinning apache-airflow keeps pip from replacing the image's Airflow.
COPY --chown=airflow:0 pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; deps = p['dependencies'] + p['optional-dependencies']['riec']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
    && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY --chown=airflow:0 . ./
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" ".[riec]" \
    && riec --help > /dev/null

COPY --chown=airflow:0 dags/ /opt/airflow/dags/

ENV RIEC_DATA_DIR=/var/lib/riec

WORKDIR /opt/airflow
