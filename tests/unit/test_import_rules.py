"""Reading import files: layouts from header rows, and one stable problem code per bad row."""

from __future__ import annotations

import pytest

from plugin_server.domain.imports import (
    ImportFileError,
    Layout,
    Problem,
    Row,
    RowProblem,
    escape_cell,
    read_rows,
    unescape_cell,
)


def rows_of(text: str, layout: Layout | None = None) -> tuple[Layout, list[Row | RowProblem]]:
    header, rows = read_rows(text.splitlines(keepends=True), layout)
    return header.layout, list(rows)


@pytest.mark.parametrize(
    ("header", "layout"),
    [
        ("email,points", Layout.SMILE),
        (" Email , POINTS ", Layout.SMILE),
        ("\ufeffemail,points", Layout.SMILE),
        ("email,customer_id,first_name,last_name,points", Layout.LOYALTY),
        ("Customer ID,Points", Layout.LOYALTY),
        ("customer-id,email,balance,pending,tier", Layout.LOYALTY),
        (
            "merchant_id,email,first_name,last_name,points_approved,points_pending",
            Layout.LOYALTYLION,
        ),
        ("Email,Points Approved", Layout.LOYALTYLION),
    ],
)
def test_the_layout_is_read_from_the_header(header: str, layout: Layout) -> None:
    assert rows_of(header + "\n")[0] is layout


@pytest.mark.parametrize(
    ("text", "layout", "code"),
    [
        ("name,amount\n", None, "unknown_layout"),
        ("email,email,points\n", None, "invalid_csv"),
        ("", None, "empty_file"),
        ("email,name\n", Layout.SMILE, "missing_columns"),
        ("customer_id,points\n", Layout.LOYALTYLION, "missing_columns"),
        ('email,points\n"a@b.co,5\n', None, "invalid_csv"),
    ],
)
def test_files_that_cannot_be_read_say_why(text: str, layout: Layout | None, code: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        rows_of(text, layout)
    assert caught.value.code == code


def test_each_bad_row_has_one_stable_code_and_its_line() -> None:
    text = (
        "email,customer_id,first_name,points\n"
        "ann@example.com,1,Ann,10\n"  # 2 ok
        "not-an-email,,X,5\n"  # 3
        "bo@example.com,,Bo,1.5\n"  # 4
        "cy@example.com,,Cy,-3\n"  # 5
        "di@example.com,,Di,1,000\n"  # 6: the comma makes a fifth column
        "ed@example.com,,Ed,\n"  # 7
        ",,Nobody,4\n"  # 8
        f"{'x' * 321}@example.com,,Long,4\n"  # 9
        "fe@example.com,,Fe,99999999999\n"  # 10
        "ANN@example.com,,Again,3\n"  # 11: the email of line 2 (any case)
        "other@example.com,1,Same id,3\n"  # 12: customer id 1 again
        "\n"  # 13: blank, skipped
        '"gi@example.com",,"Multi\nline",7\n'  # 14-15
        "ha@example.com,,Ha,8\n"  # 16
    )
    _, rows = rows_of(text)
    found = {r.line: r.code.value for r in rows if isinstance(r, RowProblem)}
    assert found == {
        3: "bad_email",
        4: "bad_points",
        5: "negative_points",
        6: "wrong_column_count",
        7: "bad_points",
        8: "missing_identity",
        9: "field_too_long",
        10: "points_too_large",
        11: "duplicate_row",
        12: "duplicate_row",
    }
    good = {r.line: r for r in rows if isinstance(r, Row)}
    assert sorted(good) == [2, 14, 16]
    assert good[2].email == "ann@example.com"
    assert good[14].first_name == "Multi\nline"
    assert good[16].points == 8


def test_a_member_is_the_same_by_id_or_by_email() -> None:
    _, rows = rows_of(
        "email,customer_id,points\n"
        "a@x.io,1,1\n"  # 2
        "b@x.io,1,1\n"  # 3: id of line 2
        ",1,1\n"  # 4: id of line 2
        "A@X.IO,,1\n"  # 5: email of line 2
        "c@x.io,3,1\n"  # 6
        "d@x.io,,1\n"  # 7
    )
    found = [(r.line, r.message) for r in rows if isinstance(r, RowProblem)]
    assert found == [(n, "the same member as line 2") for n in (3, 4, 5)]


def test_duplicates_by_email_are_case_insensitive() -> None:
    _, rows = rows_of("email,points\nA@x.io,1\na@X.io,2\n")
    assert isinstance(rows[1], RowProblem)
    assert rows[1].code is Problem.DUPLICATE_ROW
    assert "line 2" in rows[1].message


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_escaped_and_read_back(value: str) -> None:
    escaped = escape_cell(value)
    assert escaped == "'" + value
    assert unescape_cell(escaped) == value


def test_plain_cells_are_left_alone() -> None:
    assert escape_cell("Ann") == "Ann"
    assert unescape_cell("'quoted'") == "'quoted'"
