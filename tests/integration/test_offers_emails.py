"""Email templates get the shopper's offers as the `offers` variable (names and reasons in
the email's language; escaped in HTML like every variable)."""

from __future__ import annotations

from flask.testing import FlaskClient

import tests.integration.test_emails as email_tests
from plugin_server.bootstrap import Container
from plugin_server.sandbox.smtp_sink import SmtpSink
from tests.conftest import ShopHandle
from tests.integration.test_offers import XSS, deliver, order

container = email_tests.container
sink = email_tests.sink

TEMPLATE = (
    "Picked for you:\n{% for o in offers %}- {{ o.name }}: {{ o.reason }}\n{% endfor %}"
    "{% if not offers %}nothing yet{% endif %}\n"
)


def test_points_earned_email_lists_the_shoppers_offers(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    deliver(client, shopify_shop.domain, order(1, 2, [101, 105], days_ago=40))
    email_tests.switch(client, shopify_shop, points_earned=True)
    r = client.patch(
        "/api/v1/email-templates/points_earned?locale=en",
        json={
            "body_text": TEMPLATE,
            "body_html": "<ul>{% for o in offers %}<li>{{ o.name }}</li>{% endfor %}</ul>",
        },
        headers=shopify_shop.auth,
    )
    assert r.status_code == 200, r.json
    preview = client.post(
        "/api/v1/email-templates/points_earned/preview?locale=en",
        json={},
        headers=shopify_shop.auth,
    )
    assert preview.status_code == 200, preview.json
    assert "- 10% off: You can afford this now" in preview.json["body_text"]

    # Customer 1 buys green tea; customer 2 bought it 40 days ago with the hostile product.
    deliver(client, shopify_shop.domain, order(2, 1, [101], days_ago=0))
    assert email_tests.send(container, sink)["sent"] == 1
    (message,) = sink.messages
    text = message.get_body(("plain",)).get_content()
    assert f"- {XSS}: Customers who bought Green tea also bought this" in text
    html = message.get_body(("html",)).get_content()
    assert "&lt;img src=x" in html
    assert "<img" not in html
