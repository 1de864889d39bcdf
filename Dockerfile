# The Xinyong project image: every Airflow service, the Celery workers and the one-shot
# set-up run from it (docker-compose.yml; the Helm values in deploy/helm use it too).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    XINYONG_HOME=/data/xinyong \
    XINYONG_LANDING=/data/landing

# uid 50000 is the official Airflow image's user, which the Helm chart's defaults expect.
RUN useradd --create-home --uid 50000 --gid 0 xinyong

WORKDIR /opt/xinyong
# The exact versions first, in their own layer: code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .
# Editable: the package finds dags/, dbt_project/ and expectations/ beside itself.
RUN pip install --no-deps -e . \
 && mkdir -p /opt/airflow/logs /opt/airflow/auth /data/landing /data/xinyong \
 && chown -R xinyong:0 /opt/airflow /data /opt/xinyong/dbt_project /opt/xinyong/expectations \
 && chmod -R g+rwX /opt/airflow /data /opt/xinyong/dbt_project /opt/xinyong/expectations

USER xinyong
CMD ["xinyong", "--help"]
