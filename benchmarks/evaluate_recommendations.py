"""Offline evaluation of the product recommender (plugin_server/services/offers.py over
plugin_server/domain/offers.py) against a popularity baseline.

A synthetic shop with known behaviour (seeded): products in categories (stored as
collections) with their own price levels and a skewed popularity; each customer has one or
two favourite categories and a couple of staples they buy again; orders of one to three
lines spread over a year. The orders are split in time at a cutoff: calibration before it,
holdout after. Only the calibration lines are stored, the recommender runs through the same
SQL reads as a request (one SQLite database, `now` = the cutoff), and each customer with
orders on both sides is scored on their holdout purchases:

- hit rate: the share of customers who bought at least one recommended product;
- precision@3: recommended products they bought, over 3.

The baseline recommends the shop's top 3 products (most calibration buyers) to everyone.
Prints only; asserts nothing. Runs in well under a minute.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_server.db.models import Base, Collection, CollectionProduct, OrderLine  # noqa: E402
from plugin_server.domain import offers as rules  # noqa: E402
from plugin_server.services import offers  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 365
CUTOFF = START + timedelta(days=270)
SHOP_ID = 1


@dataclass(frozen=True)
class Product:
    ref: str
    category: int
    price: Decimal
    weight: float  # popularity within its category


@dataclass(frozen=True)
class Line:
    order_ref: str
    line_ref: str
    customer_id: int
    product: Product
    quantity: int
    at: datetime


def synthetic_shop(
    rng: random.Random, *, customers: int, categories: int, per_category: int
) -> tuple[list[Product], list[Line]]:
    products: list[Product] = []
    for category in range(categories):
        level = Decimal(rng.choice([8, 15, 30, 60, 120]))
        for rank in range(per_category):
            price = (level * Decimal(rng.uniform(0.8, 1.25))).quantize(Decimal("0.01"))
            products.append(
                Product(f"p{category:02d}{rank:02d}", category, price, 1.0 / (rank + 1))
            )
    by_category: dict[int, list[Product]] = defaultdict(list)
    for p in products:
        by_category[p.category].append(p)
    # Some categories draw more customers than others.
    category_weights = [1.0 / (c + 1) ** 0.5 for c in range(categories)]
    lines: list[Line] = []
    order_no = 0
    for customer in range(1, customers + 1):
        tastes = rng.choices(range(categories), weights=category_weights, k=rng.choice([1, 2]))
        staples = rng.sample(
            [p for c in set(tastes) for p in by_category[c]], k=2
        )  # bought again and again
        orders = max(1, int(rng.expovariate(1 / 5)))
        for _ in range(min(orders, 14)):
            order_no += 1
            at = START + timedelta(days=rng.uniform(0, DAYS))
            basket: list[Product] = []
            for _ in range(rng.choice([1, 1, 2, 2, 3])):
                roll = rng.random()
                if roll < 0.30:
                    basket.append(rng.choice(staples))
                elif roll < 0.85:
                    pool = by_category[rng.choice(tastes)]
                    basket.append(rng.choices(pool, weights=[p.weight for p in pool])[0])
                else:  # anything, by popularity across the shop
                    basket.append(rng.choices(products, weights=[p.weight for p in products])[0])
            for n, product in enumerate(dict.fromkeys(basket), start=1):
                lines.append(
                    Line(f"o{order_no}", str(n), customer, product, rng.choice([1, 1, 2]), at)
                )
    return products, lines


def store(session: Session, products: list[Product], lines: list[Line]) -> None:
    """Calibration lines and the categories as collections."""
    categories = sorted({p.category for p in products})
    session.execute(
        insert(Collection),
        [
            {
                "id": c + 1,
                "shop_id": SHOP_ID,
                "collection_ref": f"c{c}",
                "title": f"Category {c}",
                "product_count": 0,
                "created_at": START,
            }
            for c in categories
        ],
    )
    session.execute(
        insert(CollectionProduct),
        [
            {"shop_id": SHOP_ID, "collection_id": p.category + 1, "product_ref": p.ref}
            for p in products
        ],
    )
    session.execute(
        insert(OrderLine),
        [
            {
                "shop_id": SHOP_ID,
                "order_ref": line.order_ref,
                "order_id": None,
                "customer_id": line.customer_id,
                "line_ref": line.line_ref,
                "product_ref": line.product.ref,
                "variant_ref": None,
                "title": f"Product {line.product.ref}",
                "quantity": line.quantity,
                "amount": line.product.price * line.quantity,
                "currency": "USD",
                "ordered_at": line.at,
                "created_at": line.at,
            }
            for line in lines
        ],
    )
    session.commit()


@dataclass
class Score:
    hits: int = 0
    relevant: int = 0
    customers: int = 0

    def add(self, recommended: list[str], bought: set[str]) -> None:
        found = len(set(recommended) & bought)
        self.customers += 1
        self.hits += found > 0
        self.relevant += found

    @property
    def hit_rate(self) -> float:
        return self.hits / self.customers if self.customers else 0.0

    @property
    def precision(self) -> float:
        return self.relevant / (3 * self.customers) if self.customers else 0.0


def evaluate(seed: int, customers: int, categories: int, per_category: int) -> None:
    rng = random.Random(seed)
    products, lines = synthetic_shop(
        rng, customers=customers, categories=categories, per_category=per_category
    )
    calibration = [line for line in lines if line.at < CUTOFF]
    holdout: dict[int, set[str]] = defaultdict(set)
    for line in lines:
        if line.at >= CUTOFF:
            holdout[line.customer_id].add(line.product.ref)
    calibrated = {line.customer_id for line in calibration}
    evaluated = sorted(c for c in holdout if c in calibrated)

    buyers: dict[str, set[int]] = defaultdict(set)
    for line in calibration:
        buyers[line.product.ref].add(line.customer_id)
    top3 = sorted(buyers, key=lambda r: (-len(buyers[r]), r))[:3]

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/recommend.db")
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            store(session, products, calibration)
        ours, baseline = Score(), Score()
        reasons: dict[str, int] = defaultdict(int)
        started = time.perf_counter()
        with Session(engine) as session:
            for customer in evaluated:
                facts = offers.product_facts(session, SHOP_ID, customer)
                ranked = rules.rank_products(facts, now=CUTOFF)
                for offer in ranked:
                    reasons[offer.reason] += 1
                ours.add([o.product_ref for o in ranked], holdout[customer])
                baseline.add(top3, holdout[customer])
        elapsed = time.perf_counter() - started
        engine.dispose()

    print(
        f"seed {seed}: {customers} customers, {len(products)} products in {categories} "
        f"categories, {len(lines)} lines ({len(calibration)} before the cutoff)"
    )
    print(f"  evaluated customers (orders on both sides): {len(evaluated)}")
    print(f"  {'':<22}{'hit rate':>10}{'precision@3':>14}")
    print(f"  {'ours':<22}{ours.hit_rate:>10.1%}{ours.precision:>14.1%}")
    print(f"  {'popularity (top 3)':<22}{baseline.hit_rate:>10.1%}{baseline.precision:>14.1%}")
    verdict = (
        "beats"
        if ours.hit_rate > baseline.hit_rate and ours.precision > baseline.precision
        else "does NOT beat"
    )
    print(f"  ours {verdict} the baseline on both measures")
    print(f"  reasons given: {dict(sorted(reasons.items()))}")
    print(
        f"  {elapsed / max(len(evaluated), 1) * 1000:.1f} ms per customer (SQLite, reads + ranking)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--categories", type=int, default=8)
    parser.add_argument("--per-category", type=int, default=8)
    args = parser.parse_args()
    for seed in args.seeds:
        evaluate(seed, args.customers, args.categories, args.per_category)


if __name__ == "__main__":
    main()
