"""The merchant admin app: server-rendered pages (Jinja2, autoescaped) at /admin.

Every page calls the same services as the JSON admin API, so a form shows the API's own
validation messages. Authentication is in `auth`; texts in `i18n`; pages in `views`;
templates in `templates/admin` (each extends `base.html`; `_macros.html` has the form
field, error summary, CSRF field and notice). To add a page: a module beside `views`
with its routes on `bp`, using `views.page(..., nav="<key>")`, `views.redirect_to`,
`views.form_errors` and `views.current_merchant`; imported in `init_app`; its texts in
all three languages through `i18n.add_texts` (a test keeps them complete) and its
section in `views.NAV`. Forms post to a view that calls the same service as the API,
re-render with the service's message on ValidationFailed, and redirect (303) with a
`notice` (registered in `views.NOTICES`) on success.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import Blueprint, Flask

from plugin_server.bootstrap import Container

bp = Blueprint(
    "adminapp",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
)


def init_app(app: Flask, container: Container) -> None:
    """Register the admin app and configure the cookie session it uses for WooCommerce
    and development sign-ins (Shopify requests carry a session token instead)."""
    from plugin_server.api.admin_app import (  # noqa: F401  (routes)
        analytics_pages,
        auth,
        logs,
        notification_pages,
        program_pages,
        settings_pages,
        suggestion_pages,
        views,
    )

    logs.install()

    # A key of its own, derived from the app's secret: a session cookie can never be
    # mistaken for anything else the secret signs.
    app.secret_key = hmac.new(
        container.settings.secret_key.encode(), b"loyalty-admin-session", hashlib.sha256
    ).hexdigest()
    app.config.update(
        SESSION_COOKIE_NAME=auth.SESSION_COOKIE,
        SESSION_COOKIE_PATH="/admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not container.settings.development,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=auth.SESSION_MAX_AGE_S),
    )
    app.jinja_env.autoescape = True  # also for templates not named *.html
    app.register_blueprint(bp)
