"""The storefront's shop cache: a merchant's change shows within its time to live, never later,
and a shop that is gone or deactivated is refused."""

from __future__ import annotations

from plugin_server.bootstrap import Container
from plugin_server.db.models import Shop
from plugin_server.services import storefront
from tests.conftest import ShopHandle, make_shop


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_changes_show_after_the_time_to_live(container: Container) -> None:
    shop = make_shop(container, "shopify", "cache-shop.myshopify.com", access_token="shpat_x")
    ticker = Ticker()
    shops = storefront.StorefrontShops(container.session_factory, 5.0, monotonic=ticker)
    assert shops.page(shop.id)["settings"]["position"] == "right"
    assert shops.active("shopify", shop.domain) is not None

    storefront.update_widget(container.uow(), shop.id, {"position": "left"})
    with container.session_factory.begin() as session:
        row = session.get(Shop, shop.id)
        assert row is not None
        row.active = False

    ticker.now += 4.9  # within the time to live: the cached view
    assert shops.page(shop.id)["settings"]["position"] == "right"
    assert shops.active("shopify", shop.domain) is not None
    ticker.now += 0.2  # past it: the merchant's change and the deactivation
    assert shops.page(shop.id)["settings"]["position"] == "left"
    assert shops.active("shopify", shop.domain) is None


def test_without_a_time_to_live_every_lookup_reads_the_database(
    container: Container, shopify_shop: ShopHandle
) -> None:
    shops = storefront.StorefrontShops(container.session_factory, 0)
    found = shops.active(None, shopify_shop.domain)
    assert found is not None
    assert found.origins == ("https://test-shop.myshopify.com",)
    storefront.update_widget(
        container.uow(), shopify_shop.id, {"origins": ["https://shop.example.com"]}
    )
    found = shops.active("shopify", shopify_shop.domain)
    assert found is not None
    assert found.origins == ("https://test-shop.myshopify.com", "https://shop.example.com")
    assert shops.active("woocommerce", shopify_shop.domain) is None  # platform must match
    assert shops.active(None, "other.myshopify.com") is None
