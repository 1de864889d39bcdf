"""Superset's configuration, the same locally (`make bi`) and in docker-compose.yml.

Everything that differs between the two comes from the environment: the secret key, the
metadata database (sqlite under .xinyong/superset locally, PostgreSQL database `superset`
in the compose file). Superset reads this file through SUPERSET_CONFIG_PATH.
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_DB_URI"]

# The district's staff read Chinese; English stays available in the language menu.
BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}

# Nothing leaves the machine: no telemetry pixel, no example data.
SCARF_ANALYTICS = False
# One process locally; the rate limiter's in-memory store is enough for the login form.
RATELIMIT_STORAGE_URI = "memory://"
ROW_LIMIT = 50000
