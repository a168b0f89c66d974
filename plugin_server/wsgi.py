"""gunicorn entry point: `gunicorn plugin_server.wsgi:app`."""

from plugin_server import create_app

app = create_app()
