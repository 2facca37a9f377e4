"""`ownercomm history` (SPEC §10): each month-end row equals a report dated that day, key by key.

The reference is the reports' own path, run from scratch per month-end: the dealer file
resolved with ``as_of`` = the month-end, the exports read again, and each report section's
``compute`` (what the notebooks call), then the flags of the whole audit at that as_of.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ownercomm_kit import audit, loader, params, referrals, retention
from ownercomm_kit.cli import main
from ownercomm_kit.data import DataError
from ownercomm_kit.kpis import history
from ownercomm_kit.kpis.registry import KPIS

ROOT = Path(__file__).resolve().parents[2]


def _report_figures(dealer_file: Path, as_of: dt.date) -> tuple[dict, pd.DataFrame]:
    """kpis.json of a report dated ``as_of``, the long way, and that audit's flags."""
    resolved = params.resolve(dealer_file=dealer_file, overrides={"as_of": as_of})
    try:
        data = loader.load_dealer(resolved, strict=True)
    except DataError as e:  # a report dated before the data is refused (no such report exists)
        assert "before the first date in the data" in str(e.problems)
        return None, pd.DataFrame({"rule": pd.Series([], dtype="string")})
    a = audit.run_audit(data, resolved)
    r = retention.compute(data, resolved)
    f = referrals.compute(data, resolved)
    kpis = {
        **{k: a.headline[k] for k in audit.HEADLINE_KEYS},
        **{k: r.kpis[k] for k in retention.KPI_KEYS},
        **{k: f.kpis[k] for k in referrals.KPI_KEYS},
    }
    return kpis, a.flags


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA
    return b is not None and not pd.isna(b) and math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)


def _check_against_reports(dealer_file: Path, months: int) -> pd.DataFrame:
    resolved = params.resolve(dealer_file=dealer_file)
    data = loader.load_dealer(resolved, strict=True)
    df = history.compute(data, resolved, months)
    assert len(df) == months
    first = dt.date.fromisoformat(df["as_of"].iloc[0])
    _, prev_flags = _report_figures(dealer_file, first.replace(day=1) - dt.timedelta(days=1))
    for _, row in df.iterrows():
        end = dt.date.fromisoformat(row["as_of"])
        kpis, flags = _report_figures(dealer_file, end)
        for key, value in (kpis or {}).items():
            assert _same(value, row[key]), (end, key, value, row[key])
        # rule columns: flags of messages sent in that month = this report's flags minus last month-end's
        counts, before = flags["rule"].value_counts(), prev_flags["rule"].value_counts()
        for rule in audit.RULES:
            if not pd.isna(row[rule]):
                assert int(row[rule]) == int(counts.get(rule, 0)) - int(before.get(rule, 0)), (end, rule)
        prev_flags = flags
    return df


def test_month_ends():
    assert history.month_ends(dt.date(2026, 10, 31), 3) == [
        dt.date(2026, 8, 31),
        dt.date(2026, 9, 30),
        dt.date(2026, 10, 31),
    ]
    # mid-month: the history stops at the previous month-end; leap years and year turns
    assert history.month_ends(dt.date(2028, 3, 15), 3) == [
        dt.date(2027, 12, 31),
        dt.date(2028, 1, 31),
        dt.date(2028, 2, 29),
    ]
    with pytest.raises(ValueError):
        history.month_ends(dt.date(2026, 1, 1), 0)


@pytest.mark.parametrize("dealer,months", [("D001", 4), ("D002", 2), ("D003", 2)])
def test_sample_dealer_equals_reports_key_by_key(dealer, months):
    df = _check_against_reports(ROOT / "params" / "dealers" / f"{dealer}.yaml", months)
    assert list(df.columns[:1]) == ["as_of"]
    # every kpis.json key the reports write is a column, in the registry's order
    keys = [c for c in df.columns if c in KPIS]
    assert keys == [k for k in KPIS if k in keys]
    assert set(audit.HEADLINE_KEYS) | set(retention.KPI_KEYS) | set(referrals.KPI_KEYS) <= set(df.columns)
    assert set(audit.RULES) <= set(df.columns)
    # the history is cumulative for the audit's counts: messages never fall
    assert df["messages"].is_monotonic_increasing


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland"])
def test_synthetic_dealer_equals_reports(tmp_path, zone):
    """A synthetic store (injected rule breaks), in a zone far from UTC."""
    from ownercomm_kit.synth.output import write_group

    write_group(
        tmp_path,
        dealers=1,
        customers=120,
        seed=11,
        inject_rate=0.03,
        inject=True,
        fmt="csv",
        as_of=dt.date(2026, 6, 30),
        group_id="g",
        data_subdir="data",
        ground_truth_dir="gt",
        progress=None,
    )
    dealer_file = next((tmp_path / "params" / "dealers").glob("*.yaml"))
    text = dealer_file.read_text()
    import yaml

    doc = yaml.safe_load(text)
    doc["timezone"] = zone
    dealer_file.write_text(yaml.safe_dump(doc))
    _check_against_reports(dealer_file, 5)


def _write_boundary_dealer(folder: Path) -> Path:
    """Messages right at month boundaries (23:59:59 local and 00:00 the next day), a DST
    month-end, a cap broken across a month-end, an unsubscribe then a message weeks later."""
    data = folder / "data"
    data.mkdir(parents=True)
    pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "sms_consent": ["true", "false", "true"],
            "email_opt_in": ["true", "true", "true"],
            "preferred_channel": ["email", "email", "sms"],
        }
    ).to_csv(data / "customers.csv", index=False)
    rows = []
    n = 0

    def m(ts, cust="C1", ch="email", cat="newsletter", sender="dealer", **kw):
        nonlocal n
        n += 1
        rows.append(
            {
                "message_id": f"M{n:03d}",
                "customer_id": cust,
                "sent_at": ts,
                "channel": ch,
                "sender": sender,
                "category": cat,
                "campaign_id": kw.get("camp", ""),
                "unsubscribed": kw.get("unsub", ""),
            }
        )

    # six messages in seven days across the 31 January month-end: the 6th breaks cap_total
    for day in (
        "2026-01-28 10:00:00",
        "2026-01-29 10:00:00",
        "2026-01-30 10:00:00",
        "2026-01-31 23:59:59",
        "2026-02-01 00:00:00",
        "2026-02-02 09:00:00",
    ):
        m(day)
    m("2026-02-28 23:59:59", "C2", ch="sms", cat="offer")  # no consent, last second of February
    m("2026-03-01 00:00:00", "C2", ch="sms", cat="offer")  # first second of March
    m("2026-03-08 02:30:00", "C3", ch="sms", cat="offer")  # DST gap night (quiet hours)
    m("2026-03-31 22:00:00", "C3", ch="sms", cat="event", sender="oem")  # quiet hours on the month-end
    m("2026-04-01 10:00:00", "C1", ch="email", cat="offer", camp="K1", unsub="true")
    m("2026-04-02 10:00:00", "C1", ch="email", cat="offer", camp="K1")  # duplicate campaign
    m("2026-05-29 10:00:00", "C1", ch="email", cat="sales_promo")  # after the opt-out + 10 business days
    m("2026-05-31 12:00:00", "C3", ch="email", cat="recall")
    pd.DataFrame(rows).to_csv(data / "communications.csv", index=False)
    pd.DataFrame(
        {
            "sale_id": ["S1"],
            "customer_id": ["C3"],
            "sale_date": ["2026-03-20"],
            "vin": ["V1"],
            "model": ["Civic"],
            "price": [30000],
        }
    ).to_csv(data / "sales.csv", index=False)
    dealer_file = folder / "params" / "dealers" / "B1.yaml"
    dealer_file.parent.mkdir(parents=True)
    dealer_file.write_text(f"dealer_id: B1\ndata_dir: {data}\ntimezone: America/Chicago\nas_of: 2026-05-31\n")
    return dealer_file


def test_boundaries_equal_reports(tmp_path):
    dealer_file = _write_boundary_dealer(tmp_path)
    df = _check_against_reports(dealer_file, 6)
    by = df.set_index("as_of")
    # the message at 23:59:59 on 31 January belongs to January, the one at 00:00 to February
    assert by.loc["2026-01-31", "messages"] == 4
    assert by.loc["2026-02-28", "messages"] == 7
    assert int(by.loc["2026-02-28", "cap_total"]) == 1  # the 6th message, sent in February
    assert int(by.loc["2026-01-31", "cap_total"]) == 0
    assert int(by.loc["2026-02-28", "no_consent"]) == 1
    assert int(by.loc["2026-03-31", "no_consent"]) == 1
    assert int(by.loc["2026-04-30", "duplicate_campaign"]) == 1
    # before any message: counts are zero, shares have no denominator (null, not 0)
    assert by.loc["2025-12-31", "messages"] == 0
    assert pd.isna(by.loc["2025-12-31", "over_cap_customer_share"])


def test_cli_writes_history_atomically(tmp_path):
    dealer_file = _write_boundary_dealer(tmp_path)
    out = tmp_path / "reports"
    res = CliRunner().invoke(main, ["history", str(dealer_file), "--months", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    path = out / "B1" / "history.csv"
    assert "3 month-ends" in res.output and str(path) in res.output
    df = pd.read_csv(path)
    assert list(df["as_of"]) == ["2026-03-31", "2026-04-30", "2026-05-31"]
    assert [p.name for p in path.parent.iterdir()] == ["history.csv"]  # no temporary file left
    # bad input: a clear message, no traceback, nothing written
    bad = tmp_path / "bad.yaml"
    bad.write_text("dealer_id: X\ndata_dir: nowhere\ntimezone: UTC\n")
    res = CliRunner().invoke(main, ["history", str(bad), "--months", "2", "--out", str(out)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert not (out / "X").exists()
