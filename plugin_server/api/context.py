"""Access to the container from request handlers."""

from __future__ import annotations

from flask import current_app

from plugin_server.bootstrap import Container


def current_container() -> Container:
    container: Container = current_app.extensions["loyalty"]
    return container
