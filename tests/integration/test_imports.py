"""CSV imports and exports through the admin API, the services and the CLI, on a real
database: layouts, problem rows, idempotent re-runs, resuming after a crash, reset
corrections, export round trips, CSV injection and shop scoping."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server import cli, jobs
from plugin_server.bootstrap import Container
from plugin_server.db import repositories
from plugin_server.db.models import Customer, Import, LedgerEntry
from plugin_server.domain.imports import Mode
from plugin_server.services import imports
from plugin_server.settings import Settings
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle


def upload(client: FlaskClient, shop: ShopHandle, text: str | bytes, **query: Any) -> Any:
    data = text.encode() if isinstance(text, str) else text
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(
        f"/api/v1/imports?{params}", data=data, content_type="text/csv", headers=shop.auth
    )


def balance_of(client: FlaskClient, shop: ShopHandle, email: str) -> int | None:
    found = client.get(f"/api/v1/customers?email={email}", headers=shop.auth).json["customers"]
    return found[0]["balance"] if found else None


def counts(container: Container) -> tuple[int, int]:
    with container.session_factory() as s:
        return (
            s.scalar(select(func.count()).select_from(Customer)) or 0,
            s.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )


def entries_for(container: Container, shop_id: int, email: str) -> list[int]:
    with container.session_factory() as s:
        return list(
            s.scalars(
                select(LedgerEntry.points)
                .join(Customer, Customer.id == LedgerEntry.customer_id)
                .where(LedgerEntry.shop_id == shop_id, Customer.email == email)
                .order_by(LedgerEntry.id)
            )
        )


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- layouts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "text"),
    [
        (
            "loyalty",
            "Email, Customer ID ,First Name,Last Name,POINTS\n"
            "ann@example.com,1001,Ann,Lee,250\n"
            "BAO@Example.com,,Bao,,120\n",
        ),
        ("smile", "email,points\nann@example.com,250\nbao@example.com,120\n"),
        ("smile", " EMAIL , Points \r\nAnn@Example.com,250\r\nbao@example.com,120\r\n"),
        (
            "loyaltylion",
            "merchant_id,email,first_name,last_name,points_approved,points_pending,points_spent\n"
            "1001,ann@example.com,Ann,Lee,250,40,10\n"
            ",bao@example.com,Bao,,120,0,0\n",
        ),
    ],
)
def test_each_layout_is_detected_and_credited(
    client: FlaskClient, shopify_shop: ShopHandle, layout: str, text: str
) -> None:
    r = upload(client, shopify_shop, text)
    assert r.status_code == 202, r.json
    assert (r.json["layout"], r.json["status"], r.json["rows_imported"]) == (layout, "completed", 2)
    assert r.json["members_created"] == 2
    assert balance_of(client, shopify_shop, "ann@example.com") == 250
    assert balance_of(client, shopify_shop, "bao@example.com") == 120
    history = client.get(
        "/api/v1/customers/guest:bao@example.com/transactions", headers=shopify_shop.auth
    ).json["transactions"]
    assert [(t["kind"], t["points"]) for t in history] == [("import", 120)]
    assert history[0]["reason"].startswith(f"Import #{r.json['id']}: ")


def test_platform_ids_match_existing_members(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    upload(client, shopify_shop, "email,customer_id,points\nann@example.com,1001,10\n")
    # By id alone, and by email (any case) to the same member: no new member.
    r = upload(client, shopify_shop, "customer_id,email,points\n1001,,5\n")
    assert (r.status_code, r.json["members_created"]) == (202, 0)
    r = upload(client, shopify_shop, "email,points\nANN@EXAMPLE.COM,7\n")
    assert (r.status_code, r.json["members_created"]) == (202, 0)
    assert client.get("/api/v1/customers/1001", headers=shopify_shop.auth).json["balance"] == 22


def test_a_customer_id_names_that_account_and_an_email_prefers_it_to_a_guest(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    upload(client, shopify_shop, "email,points\nann@example.com,5\n")  # a guest
    r = upload(client, shopify_shop, "email,customer_id,points\nann@example.com,1001,7\n")
    assert r.json["members_created"] == 1  # the platform's customer, not the guest
    upload(client, shopify_shop, "email,points\nAnn@example.com,1\n")
    auth = shopify_shop.auth
    assert client.get("/api/v1/customers/1001", headers=auth).json["balance"] == 8
    assert client.get("/api/v1/customers/guest:ann@example.com", headers=auth).json["balance"] == 5


@pytest.mark.parametrize(
    ("body", "query", "status", "code"),
    [
        (b"name,amount\nx,1\n", {}, 400, "unknown_layout"),
        (b"email,points\n", {"layout": "loyaltylion"}, 400, "missing_columns"),
        (b"\xff\xfeemail,points\n", {}, 400, "invalid_csv"),
        (b"email,points\nann@example.com,\xff\n", {}, 400, "invalid_csv"),
        (b"email,email,points\n", {}, 400, "invalid_csv"),
        (b"", {}, 400, "empty_file"),
        (b"email,points\n", {"mode": "replace"}, 400, "validation_failed"),
    ],
)
def test_unreadable_files_are_refused_and_change_nothing(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    body: bytes,
    query: dict[str, str],
    status: int,
    code: str,
) -> None:
    r = upload(client, shopify_shop, body, **query)
    assert (r.status_code, r.json["error"]["code"]) == (status, code), r.json
    assert counts(container) == (0, 0)


def test_only_text_csv_is_accepted(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    r = client.post(
        "/api/v1/imports",
        data=b"email,points\n",
        content_type="text/plain",
        headers=shopify_shop.auth,
    )
    assert (r.status_code, r.json["error"]["code"]) == (415, "unsupported_media_type")


def test_files_over_the_limit_are_refused(
    client: FlaskClient, shopify_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 100)
    r = upload(client, shopify_shop, "email,points\n" + "a@example.com,1\n" * 20)
    assert (r.status_code, r.json["error"]["code"]) == (413, "payload_too_large")


# --- problems ------------------------------------------------------------------------------

BAD = (
    "email,customer_id,first_name,points\n"
    "ann@example.com,1001,Ann,100\n"  # 2 ok
    "not-an-email,,Bad,50\n"  # 3 bad_email
    "bao@example.com,,Bao,1.5\n"  # 4 bad_points
    "cleo@example.com,,Cleo,-20\n"  # 5 negative_points
    "dev@example.com,,Dev,1,000\n"  # 6 wrong_column_count
    "ann@example.com,1001,Ann again,10\n"  # 7 duplicate_row
    ",9999,,5\n"  # 8 unknown_customer
    f"eve@example.com,,{'E' * 300},5\n"  # 9 field_too_long
    "fay@example.com,,Fay,30\n"  # 10 ok
)
BAD_CODES = [
    (3, "bad_email"),
    (4, "bad_points"),
    (5, "negative_points"),
    (6, "wrong_column_count"),
    (7, "duplicate_row"),
    (8, "unknown_customer"),
    (9, "field_too_long"),
]


def test_a_dry_run_reports_every_problem_row_and_writes_nothing(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    r = upload(client, shopify_shop, BAD, dry_run="true")
    assert r.status_code == 200, r.json
    report = r.json
    assert [(p["line"], p["code"]) for p in report["problems"]] == BAD_CODES
    assert (report["total_rows"], report["valid_rows"], report["problem_count"]) == (9, 2, 7)
    assert report["dry_run"] is True
    assert counts(container) == (0, 0)
    assert client.get("/api/v1/imports", headers=shopify_shop.auth).json == {"imports": []}


def test_a_real_run_refuses_problem_rows_unless_told_to_skip_them(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    r = upload(client, shopify_shop, BAD)
    assert (r.status_code, r.json["error"]["code"]) == (422, "import_has_problems")
    assert r.json["error"]["fields"]["line 3"].startswith("bad_email")
    assert len(r.json["error"]["fields"]) == len(BAD_CODES)
    assert counts(container) == (0, 0)

    r = upload(client, shopify_shop, BAD, skip_invalid="true")
    assert r.status_code == 202, r.json
    got = r.json
    assert (got["status"], got["rows_imported"], got["rows_skipped"]) == ("completed", 2, 7)
    assert [(p["line"], p["code"]) for p in got["problems"]] == BAD_CODES
    assert got["points_added"] == 130
    assert balance_of(client, shopify_shop, "ann@example.com") == 100
    assert balance_of(client, shopify_shop, "fay@example.com") == 30
    assert balance_of(client, shopify_shop, "cleo@example.com") is None


# --- idempotency and resuming --------------------------------------------------------------


def test_the_same_file_again_credits_nothing_twice(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    text = "email,points\nann@example.com,40\nbao@example.com,60\n"
    first = upload(client, shopify_shop, text)
    assert first.status_code == 202
    again = upload(client, shopify_shop, text)
    assert (again.status_code, again.json["id"]) == (200, first.json["id"])
    # Resuming a completed import, or running it again, adds nothing either.
    resumed = client.post(f"/api/v1/imports/{first.json['id']}/resume", headers=shopify_shop.auth)
    assert resumed.json["status"] == "completed"
    imports.run_import(container.uow, shopify_shop.id, first.json["id"], clock=container.clock)
    assert entries_for(container, shopify_shop.id, "ann@example.com") == [40]
    assert counts(container) == (2, 2)
    # The same file in the other mode is a different import.
    reset = upload(client, shopify_shop, text, mode="reset")
    assert (reset.status_code, reset.json["rows_unchanged"]) == (202, 2)
    assert counts(container) == (2, 2)


def big_file(rows: int) -> str:
    lines = ["email,first_name,points"]
    lines += [f"m{i}@example.com,M{i},{i}" for i in range(1, rows + 1)]
    return "\n".join(lines) + "\n"


def test_an_import_resumes_after_a_crash_mid_file(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = big_file(10)
    out, created = imports.create_import(
        container.uow(),
        shopify_shop.id,
        text.encode(),
        name="big",
        layout=None,
        mode=Mode.ADD,
        skip_invalid=False,
        now=container.clock(),
    )
    assert created
    real_insert = repositories.insert_many_ignoring_conflict
    ledger_calls = []

    def crash_on_third_batch(session: Any, model: Any, rows: Any, conflict: Any) -> int:
        if model is LedgerEntry:
            ledger_calls.append(len(rows))
            if len(ledger_calls) == 3:
                raise RuntimeError("the worker died")
        return real_insert(session, model, rows, conflict)

    monkeypatch.setattr(repositories, "insert_many_ignoring_conflict", crash_on_third_batch)
    with pytest.raises(RuntimeError, match="the worker died"):
        imports.run_import(
            container.uow, shopify_shop.id, out["id"], clock=container.clock, batch_size=3
        )
    monkeypatch.setattr(repositories, "insert_many_ignoring_conflict", real_insert)
    stopped = client.get(f"/api/v1/imports/{out['id']}", headers=shopify_shop.auth).json
    # Two batches of three rows committed (lines 2-7); the third rolled back whole.
    assert (stopped["status"], stopped["last_line"], stopped["rows_imported"]) == ("running", 7, 6)
    assert counts(container) == (6, 6)
    assert balance_of(client, shopify_shop, "m7@example.com") is None

    resumed = client.post(f"/api/v1/imports/{out['id']}/resume", headers=shopify_shop.auth)
    assert resumed.status_code == 202
    done = resumed.json
    assert (done["status"], done["last_line"], done["rows_imported"]) == ("completed", 11, 10)
    assert done["points_added"] == sum(range(1, 11))
    assert counts(container) == (10, 10)
    for i in (1, 6, 7, 10):
        assert entries_for(container, shopify_shop.id, f"m{i}@example.com") == [i]
    with container.session_factory() as s:
        assert s.scalar(select(Import.content).where(Import.id == out["id"])) is None


def test_a_stopped_import_resumes_from_the_cli(
    runner: CliRunner, client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    out, _ = imports.create_import(
        container.uow(),
        shopify_shop.id,
        big_file(7).encode(),
        name="big",
        layout=None,
        mode=Mode.ADD,
        skip_invalid=False,
        now=container.clock(),
    )
    part = imports.run_import(
        container.uow,
        shopify_shop.id,
        out["id"],
        clock=container.clock,
        batch_size=2,
        max_batches=2,
    )
    assert (part["status"], part["last_line"], part["rows_imported"]) == ("running", 5, 4)
    result = runner.invoke(
        cli.main, ["import", "--shop", str(shopify_shop.id), "--resume", str(out["id"])]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows_imported"] == 7
    assert counts(container) == (7, 7)


def test_two_runners_never_apply_the_same_rows(
    container: Container, shopify_shop: ShopHandle
) -> None:
    out, _ = imports.create_import(
        container.uow(),
        shopify_shop.id,
        big_file(6).encode(),
        name="big",
        layout=None,
        mode=Mode.ADD,
        skip_invalid=False,
        now=container.clock(),
    )
    # A runner that read its progress before another committed a batch stops at its first
    # batch instead of applying rows twice.
    with pytest.raises(imports._Moved):
        imports._commit_batch(
            container.uow,
            shopify_shop.id,
            out["id"],
            expected=0,
            batch=imports._Batch(last_line=3),
            mode=Mode.ADD,
            key="x",
            label="x",
            now=container.clock(),
        )
    done = imports.run_import(container.uow, shopify_shop.id, out["id"], clock=container.clock)
    assert done["rows_imported"] == 6
    assert counts(container) == (6, 6)


# --- reset ---------------------------------------------------------------------------------


def test_reset_writes_the_difference_as_a_new_entry(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, clock: FakeClock
) -> None:
    upload(client, shopify_shop, "email,points\nann@example.com,120\nbao@example.com,30\n")
    clock.advance(seconds=1)
    r = upload(
        client,
        shopify_shop,
        "email,points\nann@example.com,50\nbao@example.com,30\ncleo@example.com,200\n",
        mode="reset",
        name="Move from Smile",
    )
    assert r.status_code == 202, r.json
    got = r.json
    assert (got["rows_imported"], got["rows_unchanged"], got["members_created"]) == (2, 1, 1)
    assert (got["points_added"], got["points_removed"]) == (200, 70)
    assert entries_for(container, shopify_shop.id, "ann@example.com") == [120, -70]
    assert entries_for(container, shopify_shop.id, "bao@example.com") == [30]
    assert entries_for(container, shopify_shop.id, "cleo@example.com") == [200]
    assert balance_of(client, shopify_shop, "ann@example.com") == 50
    history = client.get(
        "/api/v1/customers/guest:ann@example.com/transactions", headers=shopify_shop.auth
    ).json["transactions"]
    assert history[0]["reason"] == f"Import #{got['id']}: Move from Smile (balance set to 50)"
    assert history[0]["kind"] == "import"


def test_reset_to_zero_after_spending_past_zero(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    upload(client, shopify_shop, "email,customer_id,points\nann@example.com,1001,10\n")
    r = client.post(
        "/api/v1/customers/1001/adjustments",
        json={"points": -25, "reason": "owed"},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 201
    upload(client, shopify_shop, "customer_id,points\n1001,0\n", mode="reset")
    assert client.get("/api/v1/customers/1001", headers=shopify_shop.auth).json["balance"] == 0
    assert entries_for(container, shopify_shop.id, "ann@example.com") == [10, -25, 15]


# --- exports ----------------------------------------------------------------------------------


def test_members_export_imports_back_into_another_shop(
    client: FlaskClient, shopify_shop: ShopHandle, woo_shop: ShopHandle
) -> None:
    upload(
        client,
        shopify_shop,
        "email,customer_id,first_name,last_name,points\n"
        "ann@example.com,1001,Ann,Lee,250\n"
        'bao@example.com,,"=HYPERLINK(""http://x"")",Tran,120\n'
        "cleo@example.com,1003,-Cleo,@home,0\n",
    )
    exported = client.get("/api/v1/exports/members.csv", headers=shopify_shop.auth)
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    rows = read_csv(text)
    assert [(r["customer_id"], r["balance"]) for r in rows] == [
        ("1001", "250"),
        ("guest:bao@example.com", "120"),
        ("1003", "0"),
    ]
    r = upload(client, woo_shop, text, mode="reset")
    assert (r.status_code, r.json["layout"], r.json["members_created"]) == (202, "loyalty", 3)
    again = client.get("/api/v1/exports/members.csv", headers=woo_shop.auth)
    columns = ("customer_id", "email", "first_name", "last_name", "balance", "pending")
    assert [[row[c] for c in columns] for row in read_csv(again.get_data(as_text=True))] == [
        [row[c] for c in columns] for row in rows
    ]


def test_exports_never_start_a_cell_with_a_formula(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    upload(
        client,
        shopify_shop,
        "email,first_name,last_name,points\n"
        'a@example.com,=1+2,"+cmd",1\n'
        'b@example.com,@SUM(A1),"=HYPERLINK(""http://evil.example"")",2\n'
        'c@example.com,-x,"\tx",3\n',
    )
    text = client.get("/api/v1/exports/members.csv", headers=shopify_shop.auth).get_data(
        as_text=True
    )
    names = [(r["first_name"], r["last_name"]) for r in read_csv(text)]
    # (Leading spaces and tabs are trimmed on import; tab and CR are escaped like the rest
    # when a member's name starts with one: tests/unit/test_import_rules.py.)
    assert names == [
        ("'=1+2", "'+cmd"),
        ("'@SUM(A1)", '\'=HYPERLINK("http://evil.example")'),
        ("'-x", "x"),
    ]
    for row in read_csv(text):
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            # Numbers stay numbers: a negative balance is written as one, not escaped.


def test_negative_numbers_stay_numbers(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    upload(client, shopify_shop, "email,customer_id,points\nann@example.com,1001,5\n")
    client.post(
        "/api/v1/customers/1001/adjustments",
        json={"points": -9, "reason": "=owed"},
        headers=shopify_shop.auth,
    )
    balances = read_csv(
        client.get("/api/v1/exports/balances.csv", headers=shopify_shop.auth).get_data(as_text=True)
    )
    assert balances == [
        {"customer_id": "1001", "email": "ann@example.com", "balance": "-4", "pending": "0"}
    ]
    ledger = read_csv(
        client.get("/api/v1/exports/ledger.csv", headers=shopify_shop.auth).get_data(as_text=True)
    )
    assert [(r["points"], r["reason"], r["kind"]) for r in ledger][1] == (
        "-9",
        "'=owed",
        "adjustment",
    )


def test_ledger_export_by_date_range(
    client: FlaskClient, shopify_shop: ShopHandle, clock: FakeClock
) -> None:
    upload(client, shopify_shop, "email,points\nold@example.com,1\n")
    clock.advance(days=10)
    middle = clock().isoformat().replace("+00:00", "Z")
    upload(client, shopify_shop, "email,points\nnew@example.com,2\n")
    clock.advance(days=10)
    until = clock().isoformat().replace("+00:00", "Z")
    upload(client, shopify_shop, "email,points\nlater@example.com,3\n")
    r = client.get(
        f"/api/v1/exports/ledger.csv?since={middle}&until={until}", headers=shopify_shop.auth
    )
    assert [row["email"] for row in read_csv(r.get_data(as_text=True))] == ["new@example.com"]
    everything = client.get("/api/v1/exports/ledger.csv", headers=shopify_shop.auth)
    assert len(read_csv(everything.get_data(as_text=True))) == 3
    bad = client.get("/api/v1/exports/ledger.csv?since=yesterday", headers=shopify_shop.auth)
    assert (bad.status_code, bad.json["error"]["code"]) == (400, "validation_failed")


# --- shop scoping --------------------------------------------------------------------------


def test_one_shop_never_sees_another_shops_imports_or_members(
    client: FlaskClient, shopify_shop: ShopHandle, woo_shop: ShopHandle
) -> None:
    mine = upload(client, shopify_shop, "email,points\nann@example.com,5\n").json
    theirs = upload(client, woo_shop, "email,points\nann@example.com,7\n")
    # The same file in another shop is another import, crediting that shop's member.
    assert theirs.status_code == 202
    assert theirs.json["id"] != mine["id"]
    for path in (f"/api/v1/imports/{mine['id']}", f"/api/v1/imports/{mine['id']}/resume"):
        method = client.post if path.endswith("resume") else client.get
        r = method(path, headers=woo_shop.auth)
        assert (r.status_code, r.json["error"]["code"]) == (404, "import_not_found")
    listed = client.get("/api/v1/imports", headers=woo_shop.auth).json["imports"]
    assert [i["id"] for i in listed] == [theirs.json["id"]]
    exported = client.get("/api/v1/exports/members.csv", headers=woo_shop.auth)
    assert [r["balance"] for r in read_csv(exported.get_data(as_text=True))] == ["7"]
    assert balance_of(client, shopify_shop, "ann@example.com") == 5
    # An id known in one shop is unknown in the other.
    upload(client, shopify_shop, "email,customer_id,points\nbo@example.com,77,1\n")
    r = upload(client, woo_shop, "customer_id,points\n77,1\n", dry_run="true")
    assert [p["code"] for p in r.json["problems"]] == ["unknown_customer"]


def test_exports_need_the_api_key(client: FlaskClient) -> None:
    r = client.get("/api/v1/exports/members.csv")
    assert (r.status_code, r.json["error"]["code"]) == (401, "unauthorized")


# --- the document and the CLI ----------------------------------------------------------------


def test_the_document_describes_csv_bodies(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    body = doc["paths"]["/api/v1/imports"]["post"]["requestBody"]
    assert list(body["content"]) == ["text/csv"]
    for name in ("members", "balances", "ledger"):
        ok = doc["paths"][f"/api/v1/exports/{name}.csv"]["get"]["responses"]["200"]
        assert list(ok["content"]) == ["text/csv"]
    params = {p["name"] for p in doc["paths"]["/api/v1/imports"]["post"]["parameters"]}
    assert params == {"layout", "mode", "dry_run", "skip_invalid", "name"}


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return CliRunner()


def test_cli_imports_and_exports(
    runner: CliRunner, container: Container, shopify_shop: ShopHandle, tmp_path: Any
) -> None:
    path = tmp_path / "points.csv"
    path.write_text("Email,Points\nann@example.com,30\nnot-an-email,5\n")
    shop = ["--shop", str(shopify_shop.id)]
    dry = runner.invoke(cli.main, ["import", str(path), *shop, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["problems"][0]["code"] == "bad_email"
    refused = runner.invoke(cli.main, ["import", str(path), *shop])
    assert refused.exit_code == 1
    assert "line 3: bad_email" in refused.output
    done = runner.invoke(cli.main, ["import", str(path), *shop, "--skip-invalid"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["name"] == "points.csv"
    again = runner.invoke(cli.main, ["import", str(path), *shop, "--skip-invalid"])
    assert json.loads(again.output)["id"] == json.loads(done.output)["id"]
    exported = runner.invoke(cli.main, ["export", "members", *shop])
    assert exported.exit_code == 0, exported.output
    assert [r["balance"] for r in read_csv(exported.output)] == ["30"]
    ledger = runner.invoke(cli.main, ["export", "ledger", *shop, "--since", "2000-01-01"])
    assert [r["points"] for r in read_csv(ledger.output)] == ["30"]


def test_statistics_are_refreshed_as_an_import_grows_the_tables(
    container: Container, shopify_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "ANALYZE_FIRST", 2)
    out, _ = imports.create_import(
        container.uow(),
        shopify_shop.id,
        big_file(9).encode(),
        name="big",
        layout=None,
        mode=Mode.ADD,
        skip_invalid=False,
        now=container.clock(),
    )
    done = imports.run_import(
        container.uow, shopify_shop.id, out["id"], clock=container.clock, batch_size=2
    )
    assert (done["status"], done["rows_imported"]) == ("completed", 9)
    assert counts(container) == (9, 9)


def test_the_scheduler_resumes_an_import_that_stopped(
    container: Container, shopify_shop: ShopHandle, clock: FakeClock
) -> None:
    out, _ = imports.create_import(
        container.uow(),
        shopify_shop.id,
        big_file(5).encode(),
        name="big",
        layout=None,
        mode=Mode.ADD,
        skip_invalid=False,
        now=container.clock(),
    )
    imports.run_import(
        container.uow, shopify_shop.id, out["id"], clock=clock, batch_size=2, max_batches=1
    )
    assert jobs.tick(container)["imports_resumed"] == 0  # still fresh: someone may be on it
    clock.advance(minutes=11)
    assert jobs.tick(container)["imports_resumed"] == 1
    done = imports.get_import(container.uow(), shopify_shop.id, out["id"])
    assert (done["status"], done["rows_imported"]) == ("completed", 5)
    assert jobs.tick(container)["imports_resumed"] == 0


def test_imported_points_expire_like_manual_credits(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, clock: FakeClock
) -> None:
    from plugin_server.services import expiry

    r = client.patch(
        "/api/v1/program",
        json={"expiry_policy": "batch", "expiry_months": 12},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 200, r.json
    upload(client, shopify_shop, "email,customer_id,points\nann@example.com,1001,100\n")
    clock.advance(days=200)
    # A reset that lowers the balance spends from the oldest points, as a deduction does.
    upload(client, shopify_shop, "customer_id,points\n1001,60\n", mode="reset")
    upload(client, shopify_shop, "customer_id,points\n1001,25\n", name="later")
    assert client.get("/api/v1/customers/1001", headers=shopify_shop.auth).json["balance"] == 85
    clock.advance(days=200)  # the first 100 are 400 days old, 40 of them spent
    expiry.expire_all(container.uow, now=container.clock())
    assert client.get("/api/v1/customers/1001", headers=shopify_shop.auth).json["balance"] == 25
    assert entries_for(container, shopify_shop.id, "ann@example.com") == [100, -40, 25, -60]
