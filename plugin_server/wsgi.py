"""gunicorn entry point: `gunicorn -c gunicorn.conf.py plugin_server.wsgi:app`."""

import logging

from plugin_server import create_app
from plugin_server.observability import configure_logging
from plugin_server.settings import Settings

configure_logging(level=logging.INFO, json_lines=Settings.log_json_from_env())
app = create_app()
