"""The loyalty server: `create_app()` builds the Flask app; nothing else happens on import."""

from __future__ import annotations

from flask import Flask

from plugin_server.bootstrap import Container, bootstrap
from plugin_server.settings import Settings


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> Flask:
    from plugin_server import observability
    from plugin_server.api import (
        admin,
        admin_emails,  # noqa: F401  (its routes are on the admin blueprint)
        errors,
        health,
        install,
        openapi,
        suggestions_api,  # noqa: F401  (its routes are on the admin blueprint)
        unsubscribe,
        webhooks,
    )

    if container is None:
        container = bootstrap(settings or Settings.from_env())
    app = Flask(__name__, instance_path=str(container.settings.instance_path))
    # Inside ProxyFix (below), so the fast path sees the client's real address.
    app.wsgi_app = webhooks.WebhookFastPath(app, app.wsgi_app, container)  # type: ignore[method-assign]
    if container.settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = container.settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = container.settings.max_webhook_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["loyalty"] = container
    from storefront_widget import api as storefront_api

    for blueprint in (
        webhooks.bp,
        admin.bp,
        health.bp,
        openapi.bp,
        install.bp,
        storefront_api.bp,
        unsubscribe.bp,
    ):
        app.register_blueprint(blueprint)
    errors.register_error_handlers(app)
    observability.init_app(app)
    from plugin_server.api import admin_app

    admin_app.init_app(app, container)
    return app
