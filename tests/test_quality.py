"""The data-quality tables behind notebooks/data_quality.ipynb (pure functions of DealerData)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ownercomm_kit import quality
from ownercomm_kit.report import data_quality
from ownercomm_kit.data import Problem, from_frames

CUSTOMERS = [
    {"customer_id": "1", "email": "a@example.com", "sms_consent": True},
    {"customer_id": "2", "email": None, "sms_consent": None},
]
MESSAGES = [
    {
        "message_id": "M1",
        "customer_id": "1",
        "sent_at": "2026-06-01 23:30",
        "channel": "sms",
        "sender": "dealer",
        "category": "offer",
    },
    {
        "message_id": "M2",
        "customer_id": "2",
        "sent_at": "2026-06-03 08:00",
        "channel": "email",
        "sender": "oem",
        "category": "offer",
    },
]


def rule_row(rule: str, part: str | None = None) -> str:
    """The matrix row of a rule (its title and id, from the rule catalog), or of a part of it."""
    from ownercomm_kit.audit import catalog

    return f"{catalog.title(rule)} ({rule})" + (f": {part}" if part else "")


def supported(data) -> dict[str, bool]:
    df = quality.support(data)
    return dict(zip(df["section"], df["supported"]))


def test_support_follows_tables_and_columns_present_and_filled():
    data = from_frames({"customers": CUSTOMERS, "communications": MESSAGES}, timezone="America/Chicago")
    s = supported(data)
    assert s["every rule and the headline figures"]
    assert s[rule_row("no_consent", "text consent")]
    assert not s[rule_row("no_consent", "email opt-outs")]  # column absent
    assert not s["the referral report"] and not s[rule_row("promo_after_purchase")]
    assert not s[rule_row("reminder_after_service")]
    df = quality.support(data)
    row = df[df["section"] == "the referral report"].iloc[0]
    assert row["missing"] == "referrals" and row["without it"] == "the referral report is empty"


def test_a_column_present_but_empty_does_not_support_a_section():
    customers = [{**c, "sms_consent": None} for c in CUSTOMERS]
    data = from_frames({"customers": customers, "communications": MESSAGES})
    assert data.has("customers", "sms_consent")
    assert not supported(data)[rule_row("no_consent", "text consent")]


def test_one_of_several_tables_is_enough_where_the_spec_says_or():
    visits = [{"ro_id": "R1", "customer_id": "1", "visit_date": "2026-05-01"}]
    data = from_frames({"customers": CUSTOMERS, "communications": MESSAGES, "service_visits": visits})
    s = supported(data)
    assert s[rule_row("reminder_after_service")]  # service_visits or appointments
    assert not s[rule_row("conquest_to_owner")]  # sales or vehicles: neither
    df = quality.support(data)
    assert df[df["section"] == rule_row("conquest_to_owner")].iloc[0]["missing"] == "sales or vehicles"


def test_tables_overview_gives_rows_and_the_date_range_in_the_dealers_zone():
    data = from_frames({"customers": CUSTOMERS, "communications": MESSAGES}, timezone="America/Chicago")
    data.sources["communications"] = "msg_export.csv"
    over = quality.tables_overview(data).set_index("table")
    assert over.loc["communications", "rows"] == 2
    assert over.loc["communications", "file"] == "msg_export.csv"
    assert over.loc["communications", "first date"] == dt.date(2026, 6, 1)  # 23:30 local, not the next UTC day
    assert over.loc["communications", "last date"] == dt.date(2026, 6, 3)
    assert over.loc["sales", "status"] == "missing" and over.loc["sales", "rows"] == 0


def test_coverage_is_the_share_of_filled_cells_and_none_for_absent_columns():
    data = from_frames({"customers": CUSTOMERS, "communications": MESSAGES})
    cov = quality.coverage(data).set_index(["table", "column"])
    assert cov.loc[("customers", "email"), "filled"] == 0.5
    assert cov.loc[("customers", "customer_id"), "required"]
    assert not cov.loc[("customers", "phone"), "in the data"]
    assert pd.isna(cov.loc[("customers", "phone"), "filled"])
    assert "sales" not in cov.index.get_level_values("table")


def test_mapping_used_lists_every_block():
    p = {
        "files": {"communications": "msg.csv"},
        "mapping": {"customers": {"Cust No": "customer_id"}},
        "values": {"channel": {"Text": "sms"}},
    }
    df = quality.mapping_used(p)
    assert df.values.tolist() == [
        ["files", "communications", "msg.csv", "communications"],
        ["mapping", "customers", "Cust No", "customer_id"],
        ["values", "channel", "Text", "sms"],
    ]


def test_every_problem_gets_a_fix_and_errors_come_first():
    problems = [
        Problem(
            "warning",
            "communications",
            "m.csv",
            3,
            "customer_id",
            "9",
            "orphan row: customer_id is not a known customer",
            4,
        ),
        Problem(
            "error",
            "customers",
            "c.csv",
            5,
            "customer_id",
            "1",
            "duplicate customer_id: the same id appears in rows 2, 5",
        ),
        Problem(
            "error",
            "communications",
            "m.csv",
            2,
            "channel",
            "Pigeon",
            "'Pigeon' is not an allowed channel; if it means one of them, add to the dealer file: values: {channel: {\"Pigeon\": mail}}",
        ),
        Problem(
            "error",
            "communications",
            "m.csv",
            4,
            "sent_at",
            "2026-13-45",
            "unparseable time stamp (expected e.g. 2026-06-18 10:30)",
        ),
    ]
    df = quality.problems_table(problems)
    assert df["level"].tolist() == ["error", "error", "error", "warning"]
    fixes = dict(zip(df["column"] + ":" + df["level"], df["suggested fix"]))
    assert "unique" in fixes["customer_id:error"]
    assert fixes["channel:error"] == 'Add to the dealer file: values: {channel: {"Pigeon": mail}}'
    assert "date format" in fixes["sent_at:error"]
    assert "customers table in full" in fixes["customer_id:warning"]
    assert df["cells"].tolist()[-1] == 4


def test_rows_per_month_show_a_missing_month_as_zero():
    msgs = [
        {**MESSAGES[0], "message_id": f"M{i}", "sent_at": ts}
        for i, ts in enumerate(["2026-01-31 23:30", "2026-01-15 10:00", "2026-03-01 00:30", "2026-04-10 12:00"])
    ]
    data = from_frames({"customers": CUSTOMERS, "communications": msgs}, timezone="America/Chicago")
    monthly = quality.monthly_rows(data)
    comm = monthly[monthly["table"] == "communications"]
    assert comm["month"].dt.strftime("%Y-%m").tolist() == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert comm["rows"].tolist() == [2, 0, 1, 1]  # 23:30 local on 31 January stays in January


def test_an_empty_month_is_a_gap_only_in_a_busy_table():
    busy = [f"2026-0{m}-{d:02d} 10:00" for m in (1, 3, 4) for d in range(1, 13)]
    msgs = [{**MESSAGES[0], "message_id": f"M{i}", "sent_at": ts} for i, ts in enumerate(busy)]
    sales = [
        {"sale_id": "S1", "customer_id": "1", "sale_date": "2026-01-05"},
        {"sale_id": "S2", "customer_id": "2", "sale_date": "2026-04-05"},
    ]
    data = from_frames({"customers": CUSTOMERS, "communications": msgs, "sales": sales})
    found = quality.gaps(quality.monthly_rows(data))
    assert list(zip(found["table"], found["month"].dt.strftime("%Y-%m"))) == [("communications", "2026-02")]


def test_problem_values_in_email_and_phone_columns_are_masked():
    problems = [
        Problem("warning", "customers", "c.csv", 2, "email", "jane.doe@example.com", "odd email"),
        Problem("warning", "customers", "c.csv", 3, "phone", "(714) 555-0123", "odd phone"),
        Problem("error", "customers", "c.csv", 4, "customer_id", "C42", "duplicate customer_id"),
    ]
    masked = data_quality._mask_values(quality.problems_table(problems))
    assert masked["value"].tolist() == ["C42", "j***@example.com", "***-***-0123"]


def _run_sections(**given) -> str:
    """Every section of the data-quality notebook, in this process (what the kernel would show)."""
    from ownercomm_kit.report import html

    with html.capture() as shown:
        ctx = data_quality.start(None, **given)
        for section in (
            data_quality.headline,
            data_quality.problems,
            data_quality.tables,
            data_quality.months,
            data_quality.columns,
            data_quality.mapping,
            data_quality.report_support,
            data_quality.definitions,
        ):
            section(ctx)
    return "".join(b.get("text/html", "") for b, _ in shown)


def test_a_missing_data_folder_is_reported_not_raised(tmp_path):
    page = _run_sections(dealer_id="Z9", data_dir=str(tmp_path / "nowhere"), timezone="America/Denver")
    assert "data folder not found" in page
    assert "The reports will stop on the blocking problems" in page
    assert "the audit cannot run" in page


def test_hostile_headers_and_values_are_escaped(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,<img src=x onerror=alert(1)>\n1,x\n", encoding="utf-8")
    (folder / "communications.csv").write_text(
        "message_id,customer_id,sent_at,channel,sender,category\n"
        "M1,1,2026-06-01 10:00,<script>alert(1)</script>,dealer,offer\n",
        encoding="utf-8",
    )
    page = _run_sections(
        dealer_id="Z8", data_dir=str(folder), timezone="America/Denver", mapping={"customers": {"<b>bold</b>": "email"}}
    )
    assert "<img src=x" not in page and "<script>alert" not in page and "<b>bold" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # shown as text among the unread columns
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the bad channel value, as text
