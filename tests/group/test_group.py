"""The group audit (SPEC §9) on a hand-built group whose every conflict is known."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from ownercomm_kit import params as params_mod
from ownercomm_kit.audit.windows import grace_end_day
from ownercomm_kit.group import persons as P
from ownercomm_kit.group import step
from helpers.group import CHI, LA, build, day, defaults, write_store

EXPECTED = {
    ("B", "MB1", "sister_promo_after_purchase"),
    ("B", "MB3", "sister_promo_after_purchase"),
    ("A", "MA3", "sister_reminder_after_service"),
    ("A", "MA5", "sister_reminder_after_service"),
    ("A", "MA6", "sister_conquest_to_owner"),
    ("B", "MB6", "sister_conquest_to_owner"),
    ("B", "MB9", "sister_after_opt_out"),
    ("A", "MA10", "sister_after_opt_out"),
    ("A", "MA14", "group_cap_total"),
    ("B", "MB14", "group_cap_total"),
    # Ann's August emails from B come after her opt-out at A as well
    ("B", "MB12", "sister_after_opt_out"),
    ("B", "MB13", "sister_after_opt_out"),
    ("B", "MB14", "sister_after_opt_out"),
}


@pytest.fixture(scope="module")
def handbuilt(tmp_path_factory):
    g, manifest, prm = build(tmp_path_factory.mktemp("hb"))
    entry = step.run_group_step(g, manifest, prm)
    return g, manifest, prm, entry


def _flags(g):
    return pd.read_csv(g / "group" / "group_flags.csv", dtype=str, keep_default_na=False)


def test_every_conflict_exactly(handbuilt):
    g, _, _, entry = handbuilt
    f = _flags(g)
    assert set(zip(f["dealer_id"], f["message_id"], f["rule"])) == EXPECTED
    assert list(f.columns) == [
        "message_id",
        "customer_id",
        "sent_at",
        "channel",
        "sender",
        "category",
        "rule",
        "severity",
        "detail",
        "related_id",
        "dealer_id",
        "person_id",
        "related_dealer_id",
    ]
    assert set(f["severity"]) == {"medium"}
    rel = {(r.message_id, r.rule): (r.related_id, r.related_dealer_id) for r in f.itertuples()}
    assert rel[("MB1", "sister_promo_after_purchase")] == ("S1", "A")
    assert rel[("MA3", "sister_reminder_after_service")] == ("R1", "B")
    assert rel[("MA6", "sister_conquest_to_owner")] == ("V9", "C")
    assert rel[("MB9", "sister_after_opt_out")] == ("MA7", "A")
    assert rel[("MA10", "sister_after_opt_out")] == ("MB7", "B")
    assert rel[("MB14", "group_cap_total")] == ("MA11", "A")  # earliest of the window from another store
    assert rel[("MA14", "group_cap_total")] == ("MB12", "B")
    assert entry["status"] == "ok" and entry["kpis"]["group_flags_total"] == len(EXPECTED)
    assert [m["dealer_id"] for m in entry["missing"]] == ["D"]


def test_detail_names_both_stores(handbuilt):
    f = _flags(handbuilt[0]).set_index(["message_id", "rule"])
    d = f.loc[("MB1", "sister_promo_after_purchase"), "detail"]
    assert d.startswith(
        "Naperville Motors sent a Camry offer 2 days after the customer bought a Camry at Tustin Motors"
    ), d
    assert "Tustin Motors" in f.loc[("MB9", "sister_after_opt_out"), "detail"]
    assert "Naperville Motors" in f.loc[("MA3", "sister_reminder_after_service"), "detail"]


def test_persons_exactly(handbuilt):
    g = handbuilt[0]
    p = pd.read_csv(g / "group" / "persons.csv", dtype=str, keep_default_na=False)
    assert list(p.columns) == ["person_id", "dealer_id", "customer_id", "matched_by"]
    assert len(p) == 13  # every customer record, one-store persons included
    by = {(r.dealer_id, r.customer_id): r for r in p.itertuples()}
    same = lambda *keys: len({by[k].person_id for k in keys}) == 1  # noqa: E731
    assert same(("A", "C1"), ("B", "C7")) and by[("A", "C1")].matched_by == "email"
    assert same(("A", "C2"), ("B", "C8")) and by[("B", "C8")].matched_by == "phone_name"
    assert not same(("A", "C3"), ("B", "C9"))  # same phone, other last name
    assert not same(("A", "C11"), ("B", "C12"))  # same phone, blank last names
    assert same(("A", "C4"), ("A", "C5"))  # two records of one store
    assert same(("A", "C6"), ("B", "C10"), ("C", "C1"))  # transitive: phone+name, then email
    assert by[("B", "C10")].matched_by == "both" and by[("A", "C3")].matched_by == "none"
    assert p["person_id"].nunique() == 8


def test_person_id_is_a_function_of_members():
    c = pd.DataFrame(
        {
            "dealer_id": ["A", "B", "C"],
            "customer_id": ["1", "2", "3"],
            "email": ["x@y.z", "X@Y.Z ", None],
            "phone": [None, None, None],
            "last_name": [None] * 3,
        }
    )
    one = P.match_persons(c)
    two = P.match_persons(c.iloc[::-1].reset_index(drop=True))
    key = lambda df: dict(zip(df["dealer_id"] + df["customer_id"], df["person_id"]))  # noqa: E731
    assert key(one) == key(two)
    assert key(one)["A1"] == key(one)["B2"] != key(one)["C3"]


def test_normalization():
    assert P.normalize_last_name(pd.Series(["García", "Van Dyke", "O'Neil", "  ", None])).tolist()[:3] == [
        "garcia",
        "vandyke",
        "oneil",
    ]
    assert P.normalize_last_name(pd.Series(["  "])).isna().all()
    assert P.normalize_phone(pd.Series(["(714) 555-0101", "+1 714 555 0101", "714.555.0101", "", "abc"])).tolist() == [
        "+17145550101"
    ] * 3 + [pd.NA, pd.NA]
    assert P.normalize_phone(pd.Series(["020 7946 0018"]), region="GB").tolist() == ["+442079460018"]
    assert P.normalize_email(pd.Series([" Ann+promo@X.com "])).tolist() == ["ann+promo@x.com"]
    assert P.normalize_email(pd.Series([" Ann+promo@X.com "]), ignore_plus_tags=True).tolist() == ["ann@x.com"]


def test_span_counts():
    c = pd.DataFrame(
        {
            "dealer_id": ["A", "B", "C"],
            "customer_id": ["1", "2", "3"],
            "email": ["x@y.z"] * 3,
            "phone": [None] * 3,
            "last_name": [None] * 3,
        }
    )
    s = P.span_counts(P.match_persons(c))
    assert s.to_dict("records") == [{"stores": "3", "email": 1, "phone_name": 0, "both": 0, "persons": 1}]


def test_tie_at_one_instant_orders_by_dealer_id(tmp_path):
    # cap 6 in 7 days: MA14 and MB14 share an instant; A sorts first, so only MB14 is the 7th
    g, manifest, prm = build(tmp_path, group_cap_total={"windows": [{"days": 7, "max": 6}]})
    step.run_group_step(g, manifest, prm)
    f = _flags(g)
    assert set(f.loc[f["rule"] == "group_cap_total", "message_id"]) == {"MB14"}


def test_disabled_rules_and_store_cap(tmp_path):
    g, manifest, prm = build(
        tmp_path,
        **{
            r: {"enabled": False}
            for r in (
                "sister_promo_after_purchase",
                "sister_reminder_after_service",
                "sister_conquest_to_owner",
                "sister_after_opt_out",
            )
        },
    )
    step.run_group_step(g, manifest, prm)
    f = _flags(g)
    assert set(f["rule"]) == {"group_cap_total"}
    assert "MA15" not in set(f["message_id"])  # its store flagged it under cap_total


def test_promo_window_parameter(tmp_path):
    g, manifest, prm = build(tmp_path, sister_promo_after_purchase={"days": 31})
    step.run_group_step(g, manifest, prm)
    f = _flags(g)
    assert {"MB1", "MB3", "MB4"} == set(f.loc[f["rule"] == "sister_promo_after_purchase", "message_id"])


def test_grace_end_over_weekends():
    # Friday 2026-07-03 + 10 business days = Friday 07-17; a Saturday counts like the Friday before
    assert grace_end_day(np.array([day("2026-07-03"), day("2026-07-04")]), 10).tolist() == [day("2026-07-17")] * 2
    assert grace_end_day(np.array([day("2026-07-04")]), 0).tolist() == [day("2026-07-04")]


def test_suppression(handbuilt):
    g = handbuilt[0]
    s = pd.read_csv(g / "group" / "group_suppression.csv", dtype=str, keep_default_na=False)
    rows = set(zip(s["dealer_id"], s["customer_id"], s["channel"], s["rule"], s["until"]))
    assert ("B", "C7", "email", "sister_after_opt_out", "") in rows
    assert ("A", "C2", "sms", "sister_after_opt_out", "") in rows
    assert not any(r[0] == "A" and r[1] == "C1" and r[3] == "sister_after_opt_out" for r in rows)  # its own store
    assert {r[2] for r in rows if r[3] == "group_cap_total"} <= {"email", "sms", "phone", "mail"}


def test_resumable_and_kpis_in_manifest(handbuilt, tmp_path):
    g, manifest, prm, entry = handbuilt
    again = step.run_group_step(g, manifest, prm)
    assert again["status"] == "skipped" and again["kpis"] == entry["kpis"]
    assert entry["kpis"]["shared_customers"] == 3
    assert 0 < entry["kpis"]["shared_customer_message_share"] <= 1


def test_no_stores(tmp_path):
    entry = step.run_group_step(
        tmp_path, {"group_id": "g", "stores": [{"dealer_id": "D", "status": "failed", "out_dir": None}]}, defaults()
    )
    assert entry["status"] == "ok" and entry["kpis"]["group_flags_total"] == 0
    assert entry["kpis"]["shared_customer_message_share"] is None


def test_csv_formula_safe(tmp_path):
    g = tmp_path / "g"
    st = write_store(
        g,
        "A",
        "A",
        LA,
        "2026-08-10",
        customers=[{"customer_id": "=cmd", "email": "q@q.q"}],
        messages=[{"message_id": "+M1", "customer_id": "=cmd", "sent_at": "2026-08-01 10:00", "category": "conquest"}],
    )
    st2 = write_store(
        g,
        "B",
        "B",
        LA,
        "2026-08-10",
        customers=[{"customer_id": "@x", "email": "Q@q.q"}],
        vehicles=[{"vin": "-V", "customer_id": "@x"}],
    )
    step.run_group_step(g, {"group_id": "g", "stores": [st, st2]}, defaults())
    for name in ("group_flags.csv", "persons.csv", "group_suppression.csv"):
        text = (g / "group" / name).read_text()
        for line in text.splitlines()[1:]:
            for cell in line.split(","):
                assert cell[:1] not in ("=", "+", "-", "@"), (name, line)
    assert "'=cmd" in (g / "group" / "persons.csv").read_text()


def test_dask_path_gives_the_same_outputs(tmp_path):
    import distributed  # a dependency of the kit: missing is a failure

    g, manifest, prm = build(tmp_path / "local")
    step.run_group_step(g, manifest, prm)
    g2, manifest2, _ = build(tmp_path / "dask")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        prm2 = copy.deepcopy(prm)
        prm2["group"]["partition_messages"] = 7  # several buckets of persons, one task each
        entry = step.run_group_step(g2, manifest2, prm2, client=client)
    assert entry["status"] == "ok"
    for name in ("group_flags.csv", "group_suppression.csv", "persons.csv"):
        assert (g / "group" / name).read_text() == (g2 / "group" / name).read_text(), name


def test_buckets_do_not_change_outputs(tmp_path):
    g, manifest, prm = build(tmp_path / "one")
    step.run_group_step(g, manifest, prm)
    g2, manifest2, prm2 = build(tmp_path / "many")
    prm2["group"]["partition_messages"] = 5
    step.run_group_step(g2, manifest2, prm2)
    for name in ("group_flags.csv", "group_suppression.csv", "persons.csv"):
        assert (g / "group" / name).read_text() == (g2 / "group" / name).read_text(), name


def _small(tmp_path, a_msgs, b_msgs, *, a_extra=None, b_extra=None, **rules):
    g = tmp_path / "s"
    a = write_store(
        g,
        "A",
        "Tustin Motors",
        LA,
        "2026-12-31",
        customers=[{"customer_id": "X", "email": "p@q.r"}],
        messages=a_msgs,
        **(a_extra or {}),
    )
    b = write_store(
        g,
        "B",
        "Naperville Motors",
        CHI,
        "2026-12-31",
        customers=[{"customer_id": "Y", "email": "P@Q.R"}],
        messages=b_msgs,
        **(b_extra or {}),
    )
    step.run_group_step(g, {"group_id": "s", "stores": [a, b]}, defaults(**rules))
    f = _flags(g)
    return set(zip(f["message_id"], f["rule"]))


def test_cap_window_is_elapsed_hours_across_dst(tmp_path):
    # 7 days = 168 hours between instants: A1 is 12:00 PST on 03-01 = 20:00 UTC. B (Chicago) sends
    # its 6th message after the spring-forward of 03-08: 14:30 CDT = 19:30 UTC is inside (though
    # 7 days 30 min later on Chicago's wall clock), 15:30 CDT = 20:30 UTC is not
    a = [{"message_id": f"A{i}", "customer_id": "X", "sent_at": f"2026-03-0{i} 12:00"} for i in (1, 2, 3)]
    b = [
        {"message_id": "B4", "customer_id": "Y", "sent_at": "2026-03-04 14:00"},
        {"message_id": "B5", "customer_id": "Y", "sent_at": "2026-03-05 14:00"},
    ]
    inside = _small(tmp_path / "in", a, b + [{"message_id": "B6", "customer_id": "Y", "sent_at": "2026-03-08 14:30"}])
    outside = _small(tmp_path / "out", a, b + [{"message_id": "B6", "customer_id": "Y", "sent_at": "2026-03-08 15:30"}])
    assert ("B6", "group_cap_total") in inside
    assert ("B6", "group_cap_total") not in outside


def test_reminder_window_boundary_and_exempt(tmp_path):
    visits = {"visits": [{"ro_id": "R", "customer_id": "X", "visit_date": "2026-05-01"}]}
    got = _small(
        tmp_path,
        [],
        [
            {"message_id": "D30", "customer_id": "Y", "sent_at": "2026-05-31 23:00", "category": "service_reminder"},
            {"message_id": "D31", "customer_id": "Y", "sent_at": "2026-06-01 00:10", "category": "service_reminder"},
            {"message_id": "DM1", "customer_id": "Y", "sent_at": "2026-04-30 10:00", "category": "service_reminder"},
            {"message_id": "REC", "customer_id": "Y", "sent_at": "2026-05-02 10:00", "category": "recall"},
        ],
        a_extra=visits,
    )
    assert got == {("D30", "sister_reminder_after_service")}


def test_opt_out_on_an_exempt_message_still_counts(tmp_path):
    got = _small(
        tmp_path,
        [
            {
                "message_id": "U",
                "customer_id": "X",
                "sent_at": "2026-09-01 10:00",
                "category": "transactional",
                "channel": "sms",
                "unsubscribed": True,
            }
        ],
        [
            {
                "message_id": "S1",
                "customer_id": "Y",
                "sent_at": "2026-09-15 10:00",
                "channel": "sms",
            },  # day 10 = grace end
            {"message_id": "S2", "customer_id": "Y", "sent_at": "2026-09-16 10:00", "channel": "sms"},
            {
                "message_id": "S3",
                "customer_id": "Y",
                "sent_at": "2026-09-16 11:00",
                "channel": "sms",
                "category": "recall",
            },
        ],
    )
    assert got == {("S2", "sister_after_opt_out")}


def test_group_parameters_only_in_the_group_file(tmp_path):
    d = params_mod.load_defaults()
    dealer = params_mod.check_layer({"group": {"match": {"default_region": "GB"}}}, "D.yaml", "dealer", d)
    assert any("'group' parameters belong in the group file" in p for p in dealer)
    group = params_mod.check_layer(
        {
            "group": {
                "match": {"default_region": "GB"},
                "rules": {"group_cap_total": {"windows": [{"days": 7, "max": 8}]}},
            }
        },
        "g.yaml",
        "group",
        d,
    )
    assert group == []
    # a typo: found by the typed schema when the layers are resolved, named with its file and key path
    (tmp_path / "g.yaml").write_text("group_id: g\ndealers: []\ngroup:\n  match:\n    region: GB\n")
    with pytest.raises(params_mod.ParamsError) as e:
        params_mod.resolve({"dealer_id": "g", "data_dir": "."}, group_file=tmp_path / "g.yaml", root=tmp_path)
    assert any("g.yaml" in p and "group.match.region" in p for p in e.value.problems), e.value.problems


def test_group_caps_follow_the_groups_cap_total():
    from ownercomm_kit.group.rules import rule_params

    p = defaults()
    p["rules"]["cap_total"]["windows"] = [{"days": 3, "max": 2}]
    assert rule_params(p)["group_cap_total"]["windows"] == [{"days": 3, "max": 2}]
    p["group"]["rules"]["group_cap_total"]["windows"] = [{"days": 7, "max": 9}]
    assert rule_params(p)["group_cap_total"]["windows"] == [{"days": 7, "max": 9}]


def test_one_store_persons_and_the_stores_own_cap(tmp_path):
    """A person known to one store only: flagged by group_cap_total only when that store's own
    cap_total settings differ from the group's (it flagged by its own, looser, cap)."""
    d = defaults()
    same = {
        "cap_total": {"enabled": True, "windows": d["rules"]["cap_total"]["windows"]},
        "exempt_categories": d["audit"]["exempt_categories"],
    }
    loose = {
        "cap_total": {"enabled": True, "windows": [{"days": 7, "max": 50}]},
        "exempt_categories": d["audit"]["exempt_categories"],
    }
    msgs = [{"message_id": f"M{i}", "customer_id": "X", "sent_at": f"2026-05-0{i} 10:00"} for i in range(1, 8)]
    got = {}
    for name, caps in (("same", same), ("loose", loose), ("unknown", None)):
        g = tmp_path / name
        # the store flagged M6 and M7 itself when its settings are the group's
        flagged = [dict(m, store_cap=m["message_id"] in ("M6", "M7") and caps is same) for m in msgs]
        st = write_store(
            g,
            "A",
            "A",
            LA,
            "2026-06-01",
            customers=[{"customer_id": "X", "email": "x@y.z"}],
            messages=flagged,
            caps=caps,
        )
        step.run_group_step(g, {"group_id": "g", "stores": [st]}, d)
        got[name] = set(_flags(g)["message_id"])
    assert got == {"same": set(), "loose": {"M6", "M7"}, "unknown": {"M6", "M7"}}


def test_phone_fast_path_agrees_with_phonenumbers():
    import phonenumbers

    forms = [
        "(714) 555-0101",
        "714.555.0101",
        "+1 714 555 0101",
        "1-714-555-0101",
        "7145550101",
        "+17145550101",
        "  (212)552-8124 ",
        "1 (800) 555-0199",
        "011 44 20 7946 0018",
        "+44 20 7946 0018",
        "555-0101",
        "714-555-0101 x23",
        "1-800-FLOWERS",
        "(014) 555-0101",
        "+1 (114) 555 0101",
        "12345678901",
    ]
    got = P.normalize_phone(pd.Series(forms)).tolist()
    for form, g in zip(forms, got):
        try:
            p = phonenumbers.parse(form, "US")
            want = (
                phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.E164)
                if phonenumbers.is_possible_number(p)
                else None
            )
        except phonenumbers.NumberParseException:
            want = None
        assert (None if pd.isna(g) else g) == want, (form, g, want)
