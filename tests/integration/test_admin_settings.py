"""The admin app's settings pages (/admin/widget, /admin/settings, /admin/exports): they call
the same services as the JSON API, so they refuse with the API's messages and download the
API's bytes; they stay inside the signed-in shop, need the session's CSRF token, and show
what merchants and shoppers typed as text."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import func, select

from plugin_server.bootstrap import Container
from plugin_server.db.models import Import, LedgerEntry
from plugin_server.domain.imports import Mode
from plugin_server.services import imports, program, storefront
from tests.conftest import ShopHandle
from tests.integration.test_admin_app import EVIL, add_customer, csrf_of

SAMPLES = Path(__file__).parents[2] / "docs" / "samples"


def token_for(client: FlaskClient, path: str = "/admin/widget") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))


def widget_form(client: FlaskClient, **changes: str) -> dict[str, str]:
    """The widget form as the page fills it, with `changes` typed over it."""
    page = client.get("/admin/widget").get_data(as_text=True)
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input id="f-[^"]+" name="([^"]+)" type="text" value="([^"]*)"', page
        )
    }
    fields["position"] = "right"
    fields["origins"] = ""
    fields["csrf_token"] = csrf_of(page)
    return {**fields, **changes}


def program_form(client: FlaskClient, **changes: str) -> dict[str, object]:
    form: dict[str, object] = {
        "points_per_unit": "1",
        "pending_days": "0",
        "award_statuses": ["paid"],
        "expiry_policy": "never",
        "expiry_months": "12",
        "expiry_reminder_days": "7",
        "tier_measure": "points_earned",
        "tier_period": "lifetime",
        "tier_downgrade": "never",
        "csrf_token": token_for(client, "/admin/settings"),
    }
    return {**form, **changes}


def upload(client: FlaskClient, sample: str, *, step: str, **fields: str) -> object:
    data: dict[str, object] = {
        "csrf_token": token_for(client, "/admin/exports"),
        "layout": "",
        "mode": "add",
        "name": "",
        "step": step,
        **fields,
    }
    data["file"] = ((SAMPLES / sample).open("rb"), sample)
    return client.post("/admin/imports", data=data, content_type="multipart/form-data")


def api_message(r: object) -> str:
    body = r.json
    assert body is not None
    return str(body["error"]["message"])


# --- the API's messages -----------------------------------------------------------------------


def test_the_widget_form_refuses_with_the_apis_message_and_keeps_what_was_typed(
    signed_in: FlaskClient, client: FlaskClient, demo_shop: ShopHandle
) -> None:
    api = client.patch("/api/v1/widget", headers=demo_shop.auth, json={"theme": {"accent": "red"}})
    assert api.status_code == 400
    form = widget_form(signed_in, **{"theme.accent": "red", "texts.en.launcher": "Earn"})
    r = signed_in.post("/admin/widget", data=form)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert str(escape(api_message(api))) in page
    assert 'id="f-theme.accent-error"' in page
    assert 'aria-invalid="true"' in page
    assert 'value="Earn"' in page  # kept
    radius = client.patch("/api/v1/widget", headers=demo_shop.auth, json={"theme": {"radius": "9"}})
    r = signed_in.post("/admin/widget", data=widget_form(signed_in, **{"theme.radius": "9"}))
    assert str(escape(api_message(radius))) in r.get_data(as_text=True)
    origin = client.patch("/api/v1/widget", headers=demo_shop.auth, json={"origins": ["http://x"]})
    r = signed_in.post("/admin/widget", data=widget_form(signed_in, origins="http://x"))
    assert r.status_code == 400
    assert str(escape(api_message(origin))) in r.get_data(as_text=True)


def test_saving_the_widget_is_what_the_storefront_gets(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    form = widget_form(
        signed_in,
        **{"theme.accent": "#aa0000", "texts.vi.launcher": "Tích điểm", "position": "left"},
    )
    r = signed_in.post("/admin/widget", data=form)
    assert r.status_code == 303
    assert "notice=widget_saved" in r.headers["Location"]
    shown = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "Widget settings saved." in shown
    shop_page = storefront.program(container.storefront_shops, demo_shop.id)
    settings = shop_page["settings"]
    assert settings["theme"]["accent"] == "#aa0000"
    assert settings["texts"] == {"vi": {"launcher": "Tích điểm"}}
    assert settings["position"] == "left"
    # An empty text field keeps the saved text (the service cannot remove one).
    again = widget_form(signed_in, **{"texts.vi.launcher": ""})
    assert signed_in.post("/admin/widget", data=again).status_code == 303
    kept = storefront.program(container.storefront_shops, demo_shop.id)
    assert kept["settings"]["texts"] == {"vi": {"launcher": "Tích điểm"}}


def test_the_program_form_refuses_with_the_apis_message(
    signed_in: FlaskClient, client: FlaskClient, demo_shop: ShopHandle, container: Container
) -> None:
    before = program.get_program(container.uow(), demo_shop.id)
    for name, value in (("points_per_unit", "0"), ("points_per_unit", "1.23456")):
        api = client.patch("/api/v1/program", headers=demo_shop.auth, json={name: value})
        assert api.status_code == 400
        r = signed_in.post("/admin/settings", data=program_form(signed_in, **{name: value}))
        assert r.status_code == 400
        page = r.get_data(as_text=True)
        assert str(escape(api_message(api))) in page
        assert f'id="f-{name}-error"' in page
        assert f'value="{value}"' in page
    r = signed_in.post("/admin/settings", data=program_form(signed_in, pending_days="many"))
    assert r.status_code == 400
    assert "pending_days must be a whole number from 0 to 365" in r.get_data(as_text=True)
    none = signed_in.post("/admin/settings", data=program_form(signed_in, award_statuses=[]))
    assert none.status_code == 400
    assert "award_statuses must be a non-empty list" in none.get_data(as_text=True)
    assert program.get_program(container.uow(), demo_shop.id) == before


def test_the_program_form_saves_every_setting(
    signed_in: FlaskClient, demo_shop: ShopHandle, container: Container
) -> None:
    form = program_form(
        signed_in,
        points_per_unit="2.5",
        pending_days="14",
        expiry_policy="inactivity",
        expiry_months="6",
        expiry_reminder_days="10",
        tier_measure="orders",
        tier_period="calendar_year",
        tier_downgrade="period_end",
        include_tax="on",
        guests_earn="on",
    )
    r = signed_in.post("/admin/settings", data=form)
    assert r.status_code == 303
    saved = program.get_program(container.uow(), demo_shop.id)
    assert saved["points_per_unit"] == "2.5"
    assert saved["pending_days"] == 14
    assert saved["expiry"] == {"policy": "inactivity", "months": 6, "reminder_days": 10}
    assert saved["tiers"] == {
        "measure": "orders",
        "period": "calendar_year",
        "downgrade": "period_end",
    }
    assert (saved["include_shipping"], saved["include_tax"], saved["guests_earn"]) == (
        False,
        True,
        True,
    )
    page = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "Program settings saved." in page
    assert 'value="2.5"' in page


def test_an_import_with_problem_rows_is_refused_with_the_apis_message(
    signed_in: FlaskClient, client: FlaskClient, demo_shop: ShopHandle, container: Container
) -> None:
    content = (SAMPLES / "bad-rows.csv").read_bytes()
    api = client.post(
        "/api/v1/imports", headers={**demo_shop.auth, "Content-Type": "text/csv"}, data=content
    )
    assert api.status_code == 422
    r = upload(signed_in, "bad-rows.csv", step="import")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert str(escape(api_message(api))) in page
    for line in api.json["error"]["fields"]:
        number = line.split()[1]
        assert f'<td class="num">{number}</td>' in page
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Import)) == 0


def test_a_dry_run_lists_every_problem_row_by_line_and_writes_nothing(
    signed_in: FlaskClient, client: FlaskClient, demo_shop: ShopHandle, container: Container
) -> None:
    content = (SAMPLES / "bad-rows.csv").read_bytes()
    api = client.post(
        "/api/v1/imports?dry_run=true",
        headers={**demo_shop.auth, "Content-Type": "text/csv"},
        data=content,
    )
    r = upload(signed_in, "bad-rows.csv", step="dry_run")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "4 of 5 rows cannot be imported (smile layout)" in page
    for problem in api.json["problems"]:
        row = f'<td class="num">{problem["line"]}</td><td>{escape(problem["message"])}</td>'
        assert row in page
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Import)) == 0
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_an_unknown_layout_is_the_apis_message_beside_the_file(
    signed_in: FlaskClient, client: FlaskClient, demo_shop: ShopHandle
) -> None:
    api = client.post(
        "/api/v1/imports",
        headers={**demo_shop.auth, "Content-Type": "text/csv"},
        data=b"name,score\nann,1\n",
    )
    assert api.status_code == 400
    data = {
        "csrf_token": token_for(signed_in, "/admin/exports"),
        "mode": "add",
        "step": "dry_run",
        "file": (io.BytesIO(b"name,score\nann,1\n"), "x.csv"),
    }
    r = signed_in.post("/admin/imports", data=data, content_type="multipart/form-data")
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert str(escape(api_message(api))) in page
    assert 'id="f-file-error"' in page
    nothing = signed_in.post(
        "/admin/imports",
        data={"csrf_token": data["csrf_token"], "mode": "add", "step": "import"},
        content_type="multipart/form-data",
    )
    assert nothing.status_code == 400
    assert "Choose a CSV file." in nothing.get_data(as_text=True)


def test_an_import_runs_and_is_listed(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    r = upload(signed_in, "members-import.csv", step="import", name="From Smile")
    assert r.status_code == 303
    page = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert re.search(r"Import \d+ recorded", page)
    assert "From Smile" in page
    assert "Completed" in page
    with container.session_factory() as s:
        assert s.scalar(select(func.sum(LedgerEntry.points))) == 250 + 120 + 75
    # The same file again is the same import: nothing is credited twice.
    again = upload(signed_in, "members-import.csv", step="import")
    assert again.status_code == 303
    with container.session_factory() as s:
        assert s.scalar(select(func.sum(LedgerEntry.points))) == 445
        assert s.scalar(select(func.count()).select_from(Import)) == 1


# --- scoped to the shop -----------------------------------------------------------------------


def test_another_shops_import_is_not_found_and_not_resumed(
    signed_in: FlaskClient, shopify_shop: ShopHandle, container: Container
) -> None:
    # Recorded, not yet applied: resuming it would apply its rows.
    theirs, _ = imports.create_import(
        container.uow(),
        shopify_shop.id,
        (SAMPLES / "smile-points.csv").read_bytes(),
        name="Theirs",
        layout=None,
        mode=Mode.ADD,
        skip_invalid=False,
        now=container.clock(),
    )
    token = token_for(signed_in, "/admin/exports")
    r = signed_in.post(f"/admin/imports/{theirs['id']}/resume", data={"csrf_token": token})
    assert r.status_code == 404
    assert imports.get_import(container.uow(), shopify_shop.id, theirs["id"])["status"] == "pending"
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    page = signed_in.get("/admin/exports").get_data(as_text=True)
    assert f'id="import-{theirs["id"]}"' not in page
    assert "Theirs" not in page


def test_an_unfinished_import_is_resumed(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    c: Any = container
    out, _ = imports.create_import(
        c.uow(),
        demo_shop.id,
        (SAMPLES / "smile-points.csv").read_bytes(),
        name="Smile",
        layout=None,
        mode=Mode.ADD,
        skip_invalid=False,
        now=c.clock(),
    )
    # One row applied, then the run stopped (a deploy, a crash).
    imports.run_import(c.uow, demo_shop.id, out["id"], clock=c.clock, batch_size=1, max_batches=1)
    page = signed_in.get("/admin/exports").get_data(as_text=True)
    assert f'action="/admin/imports/{out["id"]}/resume"' in page
    assert "Unfinished" in page
    done = signed_in.post(f"/admin/imports/{out['id']}/resume", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    assert "notice=import_resumed" in done.headers["Location"]
    assert imports.get_import(c.uow(), demo_shop.id, out["id"])["status"] == "completed"
    with c.session_factory() as s:
        assert s.scalar(select(func.sum(LedgerEntry.points))) == 300 + 40  # each row once
    page = signed_in.get("/admin/exports").get_data(as_text=True)
    assert f'action="/admin/imports/{out["id"]}/resume"' not in page


# --- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin/widget", "/admin/settings", "/admin/imports", "/admin/imports/1/resume"]
)
def test_every_form_needs_the_sessions_csrf_token(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, path: str
) -> None:
    before_widget = storefront.get_widget(container.uow(), demo_shop.id)
    data = {"theme.accent": "#000000", "points_per_unit": "9", "position": "left"}
    assert signed_in.post(path, data=data).status_code == 400
    token = token_for(signed_in)
    assert signed_in.post(path, data={**data, "csrf_token": token[:-2] + "xx"}).status_code == 403
    assert storefront.get_widget(container.uow(), demo_shop.id) == before_widget
    assert program.get_program(container.uow(), demo_shop.id)["points_per_unit"] == "1"


# --- text, never HTML -------------------------------------------------------------------------


def test_typed_texts_are_shown_as_text_in_the_form_and_the_preview_data(
    signed_in: FlaskClient, demo_shop: ShopHandle
) -> None:
    img = '<img src=x onerror="alert(2)">'
    form = widget_form(signed_in, **{"texts.en.title": EVIL, "texts.th.launcher": img})
    assert signed_in.post("/admin/widget", data=form).status_code == 303
    page = signed_in.get("/admin/widget").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    # The preview's data: JSON in a non-running script element, with < escaped.
    data = re.search(
        r'<script type="application/json" id="widget-preview-data">(.*?)</script>', page, re.S
    )
    assert data is not None
    assert "<" not in data.group(1)
    preview = json.loads(data.group(1))
    assert preview["member"]["settings"]["texts"]["en"]["title"] == EVIL
    assert preview["guest"]["settings"]["texts"]["th"]["launcher"] == img


def test_import_names_and_rows_are_shown_as_text(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    token = token_for(signed_in, "/admin/exports")
    evil_csv = f"email,points\n{EVIL}@x.com,5\n".encode()
    r = signed_in.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "mode": "add",
            "step": "dry_run",
            "file": (io.BytesIO(evil_csv), "evil.csv"),
        },
        content_type="multipart/form-data",
    )
    assert "<script>alert" not in r.get_data(as_text=True)
    good = b"email,points\nann@example.com,5\n"
    r = signed_in.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "mode": "add",
            "step": "import",
            "name": EVIL,
            "file": (io.BytesIO(good), "good.csv"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 303
    page = signed_in.get("/admin/exports").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- downloads --------------------------------------------------------------------------------


def test_the_downloads_are_the_apis_bytes(
    signed_in: FlaskClient, client: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    add_customer(container, demo_shop.id, "7", email="=cmd@example.com", first="Ann")
    client.post(
        "/api/v1/customers/7/adjustments",
        headers=demo_shop.auth,
        json={"points": 40, "reason": "+welcome"},
    )
    upload(signed_in, "members-import.csv", step="import")
    today = container.clock().date().isoformat()
    for name in ("members", "balances"):
        mine = signed_in.get(f"/admin/exports/{name}.csv")
        theirs = client.get(f"/api/v1/exports/{name}.csv", headers=demo_shop.auth)
        assert mine.status_code == 200
        assert mine.mimetype == "text/csv"
        assert mine.headers["Content-Disposition"] == theirs.headers["Content-Disposition"]
        assert mine.get_data() == theirs.get_data()
        assert mine.get_data().count(b"\n") == 5  # header and four members
    mine = signed_in.get(f"/admin/exports/ledger.csv?since={today}&until={today}")
    theirs = client.get(
        f"/api/v1/exports/ledger.csv?since={today}T00:00:00Z&until={today}T23:59:59.999999Z",
        headers=demo_shop.auth,
    )
    assert mine.get_data() == theirs.get_data()
    assert mine.get_data().count(b"\n") == 5  # header and four entries
    everything = signed_in.get("/admin/exports/ledger.csv")
    assert (
        everything.get_data()
        == client.get("/api/v1/exports/ledger.csv", headers=demo_shop.auth).get_data()
    )
    earlier = signed_in.get("/admin/exports/ledger.csv?until=2020-01-01")
    assert earlier.get_data().count(b"\n") == 1  # the header only


def test_a_bad_date_range_is_refused_on_the_page(signed_in: FlaskClient) -> None:
    bad = signed_in.get("/admin/exports/ledger.csv?since=31/01/2026")
    assert bad.status_code == 400
    assert "Enter a date like 2026-01-31." in bad.get_data(as_text=True)
    assert 'value="31/01/2026"' in bad.get_data(as_text=True)
    reversed_ = signed_in.get("/admin/exports/ledger.csv?since=2026-02-01&until=2026-01-01")
    assert reversed_.status_code == 400
    assert "The end date is before the start date." in reversed_.get_data(as_text=True)


# --- the preview frame ------------------------------------------------------------------------


def test_only_the_preview_frame_may_be_framed_by_the_app(signed_in: FlaskClient) -> None:
    frame = signed_in.get("/admin/static/widget-preview.html")
    assert frame.status_code == 200
    policy = frame.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://admin.shopify.com" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'none'" in policy  # the widget's requests are answered in the frame
    page = signed_in.get("/admin/widget")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert 'src="/admin/static/widget-preview.html"' in page.get_data(as_text=True)


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_the_pages_speak_the_merchants_language(signed_in: FlaskClient, locale: str) -> None:
    from plugin_server.api.admin_app.i18n import TEXTS

    for path, key in (
        ("/admin/widget", "widget_title"),
        ("/admin/settings", "program_title"),
        ("/admin/exports", "io_title"),
    ):
        page = signed_in.get(f"{path}?locale={locale}").get_data(as_text=True)
        assert f'<html lang="{locale}">' in page
        assert str(escape(TEXTS[locale][key])) in page
