"""Synthetic dealers: determinism, layout, canonical types, realism, clean base, injection."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ownercomm_kit import data as data_mod
from ownercomm_kit import schema
from ownercomm_kit.cli import main
from ownercomm_kit.loader import load_dealer
from ownercomm_kit.params import load_defaults, resolve
from ownercomm_kit.synth import RULES, generate_dealer
from ownercomm_kit.synth.messages import plan
from ownercomm_kit.synth.output import CITIES, SUFFIXES, ZONES, dealer_specs

from helpers.synth import audit_flags, check_clean, dealer_data

AS_OF = dt.date(2026, 10, 31)


def run_synth(out: Path, *args: str) -> None:
    result = CliRunner().invoke(main, ["synth", str(out), "--quiet", *args])
    assert result.exit_code == 0, result.output


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small():
    """One injected dealer (in memory) shared by several tests."""
    return generate_dealer("D001", 400, 11, timezone="America/Los_Angeles", as_of=AS_OF)


# --- the command and its files ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, fmt):
    run_synth(tmp_path / "a", "--dealers", "2", "--customers", "120", "--seed", "5", "--format", fmt)
    run_synth(tmp_path / "b", "--dealers", "2", "--customers", "120", "--seed", "5", "--format", fmt)
    run_synth(tmp_path / "c", "--dealers", "2", "--customers", "120", "--seed", "6", "--format", fmt)
    a, b, c = (digests(tmp_path / x) for x in "abc")
    assert len(a) == 2 * (len(schema.TABLES) + 2) + 1  # tables + dealer file + ground truth per dealer, one group file
    assert a == b
    comm = f"data/D001/communications.{fmt}"
    assert a[comm] != c[comm]


def test_layout_dealer_and_group_files_resolve(tmp_path):
    run_synth(tmp_path, "--dealers", "3", "--customers", "60", "--group-id", "west")
    group = yaml_load(tmp_path / "params/groups/west.yaml")
    assert group["group_id"] == "west" and group["dealers"] == ["D001", "D002", "D003"]
    zones = set()
    for dealer_id in group["dealers"]:
        doc = yaml_load(tmp_path / f"params/dealers/{dealer_id}.yaml")
        assert doc["data_dir"] == f"data/{dealer_id}"  # relative: the tree can move
        zones.add(doc["timezone"])
        for table in schema.TABLES:
            assert (tmp_path / "data" / dealer_id / f"{table}.csv").is_file()
        truth = pd.read_csv(tmp_path / "ground_truth" / f"{dealer_id}.csv")
        assert list(truth.columns) == ["message_id", "rule"]
        assert not (tmp_path / "data" / dealer_id / "ground_truth").exists()
        p = resolve(dealer_file=tmp_path / f"params/dealers/{dealer_id}.yaml")
        assert Path(p["data_dir"]) == (tmp_path / "data" / dealer_id).resolve()
    assert zones == {"America/Los_Angeles", "America/Chicago", "America/New_York"}


def yaml_load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_no_inject_writes_empty_ground_truth(tmp_path):
    run_synth(tmp_path, "--dealers", "1", "--customers", "80", "--no-inject")
    truth = pd.read_csv(tmp_path / "ground_truth/D001.csv")
    assert len(truth) == 0 and list(truth.columns) == ["message_id", "rule"]


def test_sample_layout_and_bad_as_of(tmp_path):
    run_synth(
        tmp_path,
        "--dealers",
        "1",
        "--customers",
        "30",
        "--group-id",
        "sample",
        "--data-subdir",
        "sample_data",
        "--ground-truth-dir",
        "sample_data/ground_truth",
    )
    assert yaml_load(tmp_path / "params/dealers/D001.yaml")["data_dir"] == "sample_data/D001"
    assert (tmp_path / "sample_data/ground_truth/D001.csv").is_file()
    assert (tmp_path / "params/groups/sample.yaml").is_file()
    bad = CliRunner().invoke(main, ["synth", str(tmp_path / "x"), "--as-of", "2026-13-45"])
    assert bad.exit_code != 0 and "not a date" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_files_load_back_to_the_same_frames(tmp_path, fmt):
    run_synth(tmp_path, "--dealers", "1", "--customers", "150", "--seed", "3", "--format", fmt, "--as-of", "2026-03-15")
    loaded = load_dealer(resolve(dealer_file=tmp_path / "params/dealers/D001.yaml"))
    assert not loaded.errors and not loaded.missing_tables
    assert all(not cols for cols in loaded.missing_columns.values())
    frames, _ = generate_dealer("D001", 150, 3, timezone="America/Los_Angeles", as_of="2026-03-15")
    for table, df in frames.items():
        pd.testing.assert_frame_equal(
            loaded[table].reset_index(drop=True), df, check_exact=False, rtol=1e-12, obj=table
        )


def test_store_names_vary_with_the_seed_and_fit_their_zone():
    names = {seed: [s.dealer_name for s in dealer_specs(5, seed)] for seed in range(6)}
    assert names[3] == [s.dealer_name for s in dealer_specs(5, 3)]  # one seed, the same names
    assert len({tuple(v) for v in names.values()}) == 6  # other seeds, other names
    for seed in range(6):
        for spec in dealer_specs(5, seed):
            assert spec.timezone == ZONES[int(spec.dealer_id[1:]) - 1]
            base = spec.dealer_name.rstrip("0123456789 ")  # "Aurora Motors 2": a city two zones share
            assert any(base == f"{c} {s}" for c in CITIES[spec.timezone] for s in SUFFIXES), spec
    # The data does not depend on the names: ids and zones are fixed, names never repeat in a group.
    big = dealer_specs(450, 11)
    assert [s.dealer_id for s in big[:3]] == ["D001", "D002", "D003"]
    assert len({s.dealer_name for s in big}) == 450


def test_committed_sample_is_what_the_documented_command_makes(tmp_path, kit_root):
    readme = (kit_root / "sample_data/README.md").read_text(encoding="utf-8")
    assert "--seed 7" in readme and "--customers 300" in readme and "--shared-share 0.2" in readme
    run_synth(
        tmp_path,
        "--dealers",
        "3",
        "--customers",
        "300",
        "--seed",
        "7",
        "--group-id",
        "sample",
        "--data-subdir",
        "sample_data",
        "--ground-truth-dir",
        "sample_data/ground_truth",
        "--shared-share",
        "0.2",
    )
    made = digests(tmp_path / "sample_data")
    shipped = {k: v for k, v in digests(kit_root / "sample_data").items() if k != "README.md"}
    assert made == shipped
    for name in ("dealers/D001.yaml", "dealers/D002.yaml", "dealers/D003.yaml", "groups/sample.yaml"):
        assert yaml_load(tmp_path / "params" / name) == yaml_load(kit_root / "params" / name)
    assert yaml_load(kit_root / "params/dealers/D001.yaml")["dealer_name"] == dealer_specs(3, 7)[0].dealer_name
    total = sum(p.stat().st_size for p in (kit_root / "sample_data").rglob("*.csv"))
    assert total < 10 * 1024 * 1024


# --- frames ----------------------------------------------------------------------------------


def test_frames_have_canonical_columns_and_dtypes(small):
    frames, truth = small
    tz = "America/Los_Angeles"
    assert list(frames) == list(schema.TABLES)
    for name, table in schema.TABLES.items():
        df = frames[name]
        assert list(df.columns) == table.column_names, name
        for col in table.columns:
            assert df[col.name].dtype == data_mod.dtype_of(col, tz), (name, col.name, df[col.name].dtype)
        if table.key:
            assert df[table.key].is_unique and df[table.key].notna().all(), name
        for col in table.required_columns:
            assert df[col].notna().all(), (name, col)
        for col in table.columns:
            if col.kind == "enum":
                assert set(df[col.name].dropna().unique()) <= set(col.allowed), (name, col.name)
    # from_frames takes them as they are
    data = data_mod.from_frames(frames, timezone=tz, as_of=AS_OF)
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(data[name], frames[name], obj=name)
    assert truth["message_id"].isin(frames["communications"]["message_id"]).all()


def test_references_between_tables_hold(small):
    f, _ = small
    customers = set(f["customers"]["customer_id"])
    for name, col in schema.CUSTOMER_COLUMN.items():
        assert set(f[name][col].dropna()) <= customers, name
    assert set(f["referrals"]["sale_id"].dropna()) <= set(f["sales"]["sale_id"])
    assert set(f["sales"]["vin"]) <= set(f["vehicles"]["vin"])
    assert set(f["service_visits"]["vin"]) <= set(f["vehicles"]["vin"])
    sold = f["referrals"][f["referrals"]["status"] == "sold"]
    assert len(sold) and sold["sale_id"].notna().all() and sold["sold_at"].notna().all()
    sales = f["sales"].set_index("sale_id")
    assert (sales.loc[sold["sale_id"], "customer_id"].to_numpy() == sold["referred_customer_id"].to_numpy()).all()


def test_events_end_by_as_of_and_span_three_years(small):
    f, _ = small
    end = pd.Timestamp(AS_OF + dt.timedelta(days=1), tz="America/Los_Angeles")
    for name, col in schema.EVENT_DATE_COLUMN.items():
        s = f[name][col]
        if s.dt.tz is not None:
            assert (s < end).all(), name
        else:
            assert (s <= pd.Timestamp(AS_OF)).all(), name
    sent = f["communications"]["sent_at"]
    assert (sent.max() - sent.min()).days >= 3 * 365 - 10
    assert (f["sales"]["sale_date"] <= pd.Timestamp(AS_OF) - pd.DateOffset(months=36)).any()  # repurchase KPI
    future = f["appointments"][f["appointments"]["scheduled_for"] >= end]
    assert len(future) and (future["status"] == "scheduled").all()


def test_realistic_mix(small):
    f, _ = small
    c, m = f["customers"], f["communications"]
    names = pd.concat([c["first_name"], c["last_name"]])
    assert names.map(lambda s: not s.isascii()).any()  # accents and other scripts travel through
    assert c["email"].str.isascii().all()
    own_tz = c["timezone"].dropna()
    assert (own_tz != "America/Los_Angeles").any() and (own_tz == "America/Los_Angeles").any()
    assert c["household_id"].duplicated().any()
    assert c["sms_consent"].isna().any() and c["preferred_channel"].isna().any()
    assert set(m["sender"]) == set(schema.SENDERS) and set(m["channel"]) == set(schema.CHANNELS)
    assert set(m["category"]) == set(schema.CATEGORIES)
    assert set(m["status"]) == set(schema.MESSAGE_STATUSES)
    assert m["unsubscribed"].any() and m["responded_at"].notna().any()
    assert set(f["appointments"]["status"]) == set(schema.APPOINTMENT_STATUSES)
    assert set(f["referrals"]["incentive_category"]) == set(schema.INCENTIVE_CATEGORIES)
    assert {"new", "contacted", "sold", "lost"} <= set(f["referrals"]["status"])
    assert set(f["leads"]["outcome"].dropna()) == {"sold", "lost"} and f["leads"]["closed_at"].isna().any()
    assert f["sales"]["products"].str.contains(";", regex=False).any()
    assert set(f["sales"]["new_used"]) == {"new", "used"}
    # engaged customers respond more: response rate rises with the customer's own response history
    per = m.assign(r=m["responded_at"].notna()).groupby("customer_id")["r"].mean()
    assert per.quantile(0.9) > 2 * per.quantile(0.1)
    # about a hundred messages per customer over three years
    assert 40 < len(m) / len(c) < 160


def test_some_customers_abandon_service(small):
    f, _ = small
    visits = f["service_visits"]
    last = visits.groupby("customer_id")["visit_date"].max()
    assert ((pd.Timestamp(AS_OF) - last).dt.days > 365).any()
    gaps = visits.sort_values("visit_date").groupby("vin")["visit_date"].diff().dt.days.dropna()
    assert 100 < gaps.median() < 230  # every 4-7 months


def test_base_is_the_same_with_or_without_injection(small):
    frames, truth = small
    clean, none = generate_dealer("D001", 400, 11, timezone="America/Los_Angeles", as_of=AS_OF, inject=False)
    assert len(none) == 0
    cols = ["customer_id", "sent_at", "channel", "sender", "category", "campaign_id"]
    for name in schema.TABLES:
        if name != "communications":
            pd.testing.assert_frame_equal(frames[name], clean[name], obj=name)
    injected = frames["communications"]
    key = lambda df: set(map(tuple, df[cols].astype(str).to_numpy()))  # noqa: E731
    assert key(clean["communications"]) <= key(injected)
    assert len(injected) > len(clean["communications"])


# --- injection and the clean base ----------------------------------------------------------


def test_every_rule_injected_at_least_once_per_dealer(tmp_path):
    assert set(RULES) == set(load_defaults()["rules"])  # one injection per SPEC §4 rule
    run_synth(tmp_path, "--dealers", "3", "--customers", "60")
    for dealer in ("D001", "D002", "D003"):
        truth = pd.read_csv(tmp_path / "ground_truth" / f"{dealer}.csv")
        assert set(truth["rule"]) == set(RULES), dealer
        comm = pd.read_csv(tmp_path / "data" / dealer / "communications.csv", dtype=str)
        assert truth["message_id"].isin(comm["message_id"]).all()


def test_inject_rate_scales_and_tiny_dealers_work():
    _, few = generate_dealer("D009", 300, 2, inject_rate=0.01)
    _, more = generate_dealer("D009", 300, 2, inject_rate=0.05)
    assert (few["rule"].value_counts() == 3).all()
    assert (more["rule"].value_counts() == 15).all()
    for n in (0, 1, 7):
        frames, truth = generate_dealer("D010", n, 2)
        assert len(frames["customers"]) == n
        assert set(truth["message_id"]) <= set(frames["communications"]["message_id"])


def test_clean_base_breaks_no_rule_independent_check():
    """An independent reading of the rules that synth owns (not the audit engine)."""
    for zone in ("America/New_York", "America/Phoenix"):
        frames, _ = generate_dealer("D002", 500, 21, timezone=zone, inject=False)
        assert check_clean(frames, load_defaults(), zone) == {}


def test_injected_messages_break_their_rule_independent_check(small):
    frames, truth = small
    found = check_clean(frames, load_defaults(), "America/Los_Angeles")
    assert set(truth["rule"]) == set(RULES)
    for rule, ids in truth.groupby("rule")["message_id"]:
        assert set(ids) <= found.get(rule, set()), rule


def test_quiet_hours_injections_use_the_customers_zone(small):
    frames, truth = small
    m = frames["communications"].merge(frames["customers"][["customer_id", "timezone"]], on="customer_id")
    q = m[m["message_id"].isin(truth.loc[truth["rule"] == "quiet_hours", "message_id"])]
    away = q[q["timezone"].notna() & (q["timezone"] != "America/Los_Angeles")]
    assert len(away)
    # at least one is fine in the dealer's zone and quiet only in the customer's own
    dealer_hours = away["sent_at"].dt.hour
    assert ((dealer_hours >= 8) & (dealer_hours < 21)).any()


def test_better_offer_injection_quotes_the_bought_model_in_any_case(small):
    frames, truth = small
    m = frames["communications"].set_index("message_id")
    offers = m.loc[truth.loc[truth["rule"] == "better_offer_after_purchase", "message_id"]]
    sales = frames["sales"]
    for _cust, row in offers.iterrows():
        bought = sales[sales["customer_id"] == row["customer_id"]]
        same = bought[bought["model"].str.lower() == row["model"].lower()]
        assert (same["price"] > row["offer_price"]).any()


def test_thresholds_come_from_params():
    params = copy.deepcopy(load_defaults())
    r = params["rules"]
    r["cap_total"]["windows"] = [{"days": 7, "max": 2}, {"days": 30, "max": 5}]
    r["min_gap"]["default_gap_days"] = 5
    r["min_gap"]["gap_days"]["offer"] = 20
    r["cap_channel"]["windows"]["sms"] = [{"days": 14, "max": 1}]
    r["quiet_hours"]["start"], r["quiet_hours"]["end"] = "10:00", "18:30"
    r["promo_after_purchase"]["days"] = 60
    p = plan(params)
    assert p.spacing > plan(load_defaults()).spacing
    assert p.hour_lo >= 10 and p.hour_hi <= 18.5
    frames, _ = generate_dealer("D003", 300, 4, inject=False, params=params)
    assert check_clean(frames, params, "America/New_York") == {}


def test_impossible_thresholds_are_a_clear_error():
    params = copy.deepcopy(load_defaults())
    params["rules"]["cap_total"]["windows"] = [{"days": 7, "max": 0}]
    with pytest.raises(ValueError, match="cap_total"):
        plan(params)


# --- the audit engine against the ground truth ---------------------------------------------


@pytest.mark.parametrize("zone,dealer", [("America/Los_Angeles", "D001"), ("America/Chicago", "D002")])
def test_engine_recall_is_one_and_clean_dealer_has_no_flags(zone, dealer):
    params = load_defaults()
    frames, truth = generate_dealer(dealer, 300, 8, timezone=zone)
    flags = audit_flags(dealer_data(frames, dealer, zone), params)
    got = set(zip(flags["message_id"], flags["rule"]))
    missed = [(m, r) for m, r in zip(truth["message_id"], truth["rule"]) if (m, r) not in got]
    assert not missed
    clean, _ = generate_dealer(dealer, 300, 8, timezone=zone, inject=False)
    assert len(audit_flags(dealer_data(clean, dealer, zone), params)) == 0


def test_engine_on_written_files_of_a_group(tmp_path):
    """Through the files and the loader, as a consultant would run it."""
    run_synth(tmp_path, "--dealers", "2", "--customers", "150", "--seed", "9", "--format", "parquet")
    params = load_defaults()
    for dealer in ("D001", "D002"):
        data = load_dealer(resolve(dealer_file=tmp_path / f"params/dealers/{dealer}.yaml"))
        flags = audit_flags(data, params)
        truth = pd.read_csv(tmp_path / "ground_truth" / f"{dealer}.csv")
        got = set(zip(flags["message_id"], flags["rule"]))
        assert all((m, r) in got for m, r in zip(truth["message_id"], truth["rule"]))


def test_first_injections_sit_on_the_window_edges(small):
    """The engine's recall is then also a test of inclusive/exclusive window ends."""
    frames, truth = small
    params = load_defaults()["rules"]
    m = frames["communications"].set_index("message_id")
    tz = "America/Los_Angeles"

    def injected(rule):
        return m.loc[truth.loc[truth["rule"] == rule, "message_id"]]

    def ages(rule, events, date_col):
        x = injected(rule).reset_index().merge(events, on="customer_id")
        return set((x["sent_at"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize() - x[date_col]).dt.days)

    assert {0, params["promo_after_purchase"]["days"]} <= ages("promo_after_purchase", frames["sales"], "sale_date")
    assert params["better_offer_after_purchase"]["days"] in ages(
        "better_offer_after_purchase", frames["sales"], "sale_date"
    )
    assert params["reminder_after_service"]["days"] in ages(
        "reminder_after_service", frames["service_visits"], "visit_date"
    )
    # quiet hours: exactly at the end, or the last minute before the start, in the customer's zone
    q = injected("quiet_hours").join(frames["customers"].set_index("customer_id")["timezone"], on="customer_id")
    local = [
        t.tz_convert(z if isinstance(z, str) else tz).strftime("%H:%M") for t, z in zip(q["sent_at"], q["timezone"])
    ]
    assert {"21:00", "07:59"} & set(local)
    # a lead's opening moment itself counts as open
    lead = (
        injected("promo_during_open_lead").reset_index().merge(frames["leads"], on="customer_id", suffixes=("_msg", ""))
    )
    assert (lead["sent_at"] == lead["opened_at"]).any()
    # after_opt_out: the first weekday after the grace period
    unsub = m[m["unsubscribed"].fillna(False)].reset_index()[["customer_id", "channel", "sent_at"]]
    late = injected("after_opt_out").reset_index().merge(unsub, on=["customer_id", "channel"], suffixes=("", "_unsub"))
    u = late["sent_at_unsub"].dt.tz_convert(tz).dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    s = late["sent_at"].dt.tz_convert(tz).dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    grace = params["after_opt_out"]["grace_business_days"]
    assert (np.busday_count(u, s) == grace + 1).any() or (
        (np.busday_count(u, s) == grace) & (s > np.busday_offset(u, grace))
    ).any()


def test_rerun_in_the_other_format_leaves_one_file_per_table(tmp_path):
    run_synth(tmp_path, "--dealers", "1", "--customers", "20", "--format", "csv")
    run_synth(tmp_path, "--dealers", "1", "--customers", "20", "--format", "parquet", "--force")
    files = sorted(p.name for p in (tmp_path / "data/D001").iterdir())
    assert files == sorted(f"{t}.parquet" for t in schema.TABLES)
    assert not load_dealer(resolve(dealer_file=tmp_path / "params/dealers/D001.yaml")).errors


def test_engine_agrees_under_other_thresholds():
    """Dealer-specific thresholds: synth's base and injections follow them, the engine too."""
    params = copy.deepcopy(load_defaults())
    r = params["rules"]
    r["cap_channel"]["windows"]["email"] = [{"days": 7, "max": 1}]
    r["multi_sender"]["max_senders"] = 1
    r["after_opt_out"]["grace_business_days"] = 3
    r["reminder_after_service"]["days"] = 45
    r["quiet_hours"]["end"] = "20:00"
    frames, truth = generate_dealer("D004", 250, 13, timezone="America/Denver", params=params)
    flags = audit_flags(dealer_data(frames, "D004", "America/Denver"), params)
    got = set(zip(flags["message_id"], flags["rule"]))
    # quiet hours now end at 20:00 like the state windows: a late text breaks quiet_hours, and
    # state_quiet_hours leaves what quiet_hours flags to it, so no message can break it alone
    assert set(truth["rule"]) == set(RULES) - {"state_quiet_hours"}
    assert all((m, rule) in got for m, rule in zip(truth["message_id"], truth["rule"]))
    clean, _ = generate_dealer("D004", 250, 13, timezone="America/Denver", params=params, inject=False)
    assert len(audit_flags(dealer_data(clean, "D004", "America/Denver"), params)) == 0
    assert check_clean(clean, params, "America/Denver") == {}


def test_unwritable_output_is_a_message_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["synth", str(blocker / "out"), "--customers", "5", "--quiet"])
    assert result.exit_code == 1 and "cannot write" in result.output
    assert "Traceback" not in result.output


def test_synth_refuses_a_folder_that_holds_its_dealers_without_force(tmp_path):
    out = tmp_path / "kit"
    run_synth(out, "--dealers", "1", "--customers", "5")
    before = digests(out)
    again = CliRunner().invoke(
        main, ["synth", str(out), "--dealers", "1", "--customers", "5", "--seed", "9", "--quiet"]
    )
    assert again.exit_code == 1 and "already holds" in again.output and "--force" in again.output
    assert "Traceback" not in again.output
    assert digests(out) == before  # nothing overwritten
    run_synth(out, "--dealers", "1", "--customers", "5", "--seed", "9", "--force")
    assert digests(out) != before
