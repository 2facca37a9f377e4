"""params.py: layering defaults < group < dealer < overrides, typo detection, paths, as_of."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from ownercomm_kit import params
from ownercomm_kit.params import ParamsError


@pytest.fixture
def kit(tmp_path, kit_root) -> Path:
    """A throwaway kit root with the real defaults."""
    root = tmp_path / "kit"
    (root / "params" / "dealers").mkdir(parents=True)
    (root / "params" / "groups").mkdir(parents=True)
    shutil.copy(kit_root / "params" / "defaults.yaml", root / "params" / "defaults.yaml")
    return root


def write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def dealer_file(kit: Path, **doc) -> Path:
    base = {"dealer_id": "D1", "data_dir": "sample_data/D1", "timezone": "America/Chicago"}
    return write(kit / "params" / "dealers" / f"{doc.get('dealer_id', 'D1')}.yaml", {**base, **doc})


def test_defaults_apply_when_nothing_overrides(kit):
    p = params.resolve(dealer_file=dealer_file(kit))
    defaults = yaml.safe_load((kit / "params" / "defaults.yaml").read_text())
    assert p["rules"] == defaults["rules"]
    assert p["retention"]["service_interval_days"] == defaults["retention"]["service_interval_days"]
    assert p["dealer_name"] == "D1"  # falls back to the id
    assert p["files"] == {} and p["mapping"] == {} and p["values"] == {}
    assert p["as_of"] is None


def test_layers_later_wins_and_siblings_survive(kit):
    group = write(
        kit / "params" / "groups" / "g.yaml",
        {
            "group_id": "G",
            "group_name": "Group",
            "dealers": ["D1"],
            "rules": {"cap_total": {"severity": "high"}, "min_gap": {"default_gap_days": 5}},
            "retention": {"due_horizon_days": 45},
        },
    )
    dealer = dealer_file(kit, rules={"min_gap": {"default_gap_days": 2, "gap_days": {"offer": 10}}})
    p = params.resolve(dealer_file=dealer, group_file=group, overrides={"as_of": "2026-06-30"})
    assert p["rules"]["cap_total"]["severity"] == "high"  # group over defaults
    assert p["rules"]["cap_total"]["windows"][0] == {"days": 7, "max": 5}  # sibling default kept
    assert p["rules"]["min_gap"]["default_gap_days"] == 2  # dealer over group
    assert p["rules"]["min_gap"]["gap_days"]["offer"] == 10
    assert p["rules"]["min_gap"]["gap_days"]["service_reminder"] == 14  # deep merge keeps the rest
    assert p["retention"]["due_horizon_days"] == 45
    assert p["group_id"] == "G" and p["group_name"] == "Group"
    assert p["as_of"] == dt.date(2026, 6, 30)  # overrides win over all


def test_dealer_blocks_replace_rather_than_merge(kit):
    p = params.resolve(
        dealer_file=dealer_file(
            kit,
            mapping={"customers": {"Cust No": "customer_id"}},
            values={"channel": {"Text": "sms"}},
            files={"communications": "msgs.csv"},
        )
    )
    assert p["mapping"] == {"customers": {"Cust No": "customer_id"}}
    assert p["values"] == {"channel": {"Text": "sms"}}
    assert p["files"] == {"communications": "msgs.csv"}


@pytest.mark.parametrize(
    "doc, expected",
    [
        ({"timezon": "UTC"}, "unknown key 'timezon' (did you mean 'timezone'?)"),
        ({"rules": {"cap_totl": {"enabled": False}}}, "unknown key 'rules.cap_totl' (did you mean 'cap_total'?)"),
        ({"rules": {"cap_total": {"windos": []}}}, "unknown key 'rules.cap_total.windos' (did you mean 'windows'?)"),
        ({"retention": {"service_interval": 200}}, "unknown key 'retention.service_interval'"),
        ({"rules": {"cap_channel": {"windows": {"fax": []}}}}, "unknown key 'rules.cap_channel.windows.fax'"),
        ({"rules": {"min_gap": {"gap_days": {"ofer": 3}}}}, "unknown key 'rules.min_gap.gap_days.ofer'"),
        ({"rules": {"cap_total": 5}}, "'rules.cap_total' must be a mapping"),
        ({"mapping": {"customer": {"x": "customer_id"}}}, "mapping: unknown table 'customer'"),
        ({"mapping": {"customers": {"x": "cust_id"}}}, "'x' maps to 'cust_id', which is not a column of customers"),
        ({"values": {"first_name": {"a": "b"}}}, "values: 'first_name' is not a column with a fixed set of values"),
        ({"files": {"messages": "m.csv"}}, "files: unknown table 'messages'"),
        ({"as_of": "June 18"}, "as_of 'June 18' is not a date"),
    ],
)
def test_typos_and_bad_keys_name_the_key_and_the_file(kit, doc, expected):
    path = dealer_file(kit, **doc)
    with pytest.raises(ParamsError) as e:
        params.resolve(dealer_file=path)
    assert any(expected in p for p in e.value.problems), e.value.problems
    assert all(str(path) in p for p in e.value.problems)


def test_every_problem_at_once(kit):
    path = dealer_file(kit, timezon="UTC", rules={"cap_totl": {}}, retention={"x": 1})
    with pytest.raises(ParamsError) as e:
        params.resolve(dealer_file=path)
    assert len(e.value.problems) == 3


def test_group_typos_name_the_group_file(kit):
    group = write(kit / "params" / "groups" / "g.yaml", {"group_id": "G", "dealers": [], "reports": {}})
    with pytest.raises(ParamsError) as e:
        params.resolve(dealer_file=dealer_file(kit), group_file=group)
    assert any(str(group) in p and "unknown key 'reports'" in p for p in e.value.problems)


def test_mapping_a_column_to_null_ignores_it(kit):
    p = params.resolve(dealer_file=dealer_file(kit, mapping={"customers": {"E-mail": None}}))
    assert p["mapping"] == {"customers": {"E-mail": None}}


def test_free_form_keys_are_allowed(kit):
    p = params.resolve(
        dealer_file=dealer_file(
            kit,
            rules={
                "cap_channel": {"windows": {"email": [{"days": 7, "max": 1}]}},
                "min_gap": {"gap_days": {"birthday": 300}},
            },
        )
    )
    assert p["rules"]["cap_channel"]["windows"]["email"] == [{"days": 7, "max": 1}]
    assert p["rules"]["cap_channel"]["windows"]["sms"] == [{"days": 7, "max": 2}]
    assert p["rules"]["min_gap"]["gap_days"]["birthday"] == 300


def test_required_dealer_keys(kit):
    path = write(kit / "params" / "dealers" / "x.yaml", {"timezone": "UTC"})
    with pytest.raises(ParamsError) as e:
        params.resolve(dealer_file=path)
    assert any("dealer_id is required" in p for p in e.value.problems)
    assert any("data_dir is required" in p for p in e.value.problems)


def test_data_dir_is_relative_to_the_kit_root_not_the_working_folder(kit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = params.resolve(dealer_file=dealer_file(kit, data_dir="sample_data/D1"))
    assert p["data_dir"] == str((kit / "sample_data" / "D1").resolve())
    assert p["kit_root"] == str(kit)
    absolute = tmp_path / "elsewhere"
    p = params.resolve(dealer_file=dealer_file(kit, data_dir=str(absolute)))
    assert p["data_dir"] == str(absolute)


def test_dealer_id_becomes_a_string(kit):
    p = params.resolve(dealer_file=dealer_file(kit, dealer_id=7))
    assert p["dealer_id"] == "7"


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("", None),
        ("2026-06-18", dt.date(2026, 6, 18)),
        (dt.date(2026, 6, 18), dt.date(2026, 6, 18)),
        (dt.datetime(2026, 6, 18, 9), dt.date(2026, 6, 18)),
        (" 2026-06-18 ", dt.date(2026, 6, 18)),
    ],
)
def test_parse_as_of(value, expected):
    assert params.parse_as_of(value) == expected


def test_as_of_from_yaml_date_and_bad_override(kit):
    path = kit / "params" / "dealers" / "D1.yaml"
    path.write_text("dealer_id: D1\ndata_dir: x\ntimezone: UTC\nas_of: 2026-06-18\n")  # YAML reads a date
    assert params.resolve(dealer_file=path)["as_of"] == dt.date(2026, 6, 18)
    with pytest.raises(ParamsError, match="not a date"):
        params.resolve(dealer_file=path, overrides={"as_of": "18/06/2026"})


def test_yaml_errors_are_params_errors(kit):
    path = kit / "params" / "dealers" / "bad.yaml"
    path.write_text("dealer_id: [unclosed\n")
    with pytest.raises(ParamsError, match="bad.yaml line .*not valid YAML"):
        params.resolve(dealer_file=path)
    path.write_text("- a list\n")
    with pytest.raises(ParamsError, match="expected a mapping"):
        params.resolve(dealer_file=path)
    with pytest.raises(ParamsError, match="file not found"):
        params.resolve(dealer_file=kit / "params" / "dealers" / "none.yaml")


def test_resolve_does_not_change_the_defaults_between_calls(kit):
    first = params.resolve(dealer_file=dealer_file(kit, rules={"cap_total": {"severity": "high"}}))
    first["rules"]["cap_total"]["windows"].append({"days": 1, "max": 1})
    second = params.resolve(dealer_file=dealer_file(kit))
    assert second["rules"]["cap_total"]["severity"] == "medium"
    assert len(second["rules"]["cap_total"]["windows"]) == 2


def test_for_notebook_with_a_dealer_file(kit):
    path = dealer_file(kit, dealer_name="Tustin Motors")
    p = params.for_notebook(dealer_file=str(path), as_of="2026-06-01")
    assert p["dealer_name"] == "Tustin Motors" and p["as_of"] == dt.date(2026, 6, 1)
    assert p["data_dir"] == str((kit / "sample_data" / "D1").resolve())


def test_for_notebook_papermill_style_values_override_the_file(kit):
    path = dealer_file(kit)
    p = params.for_notebook(dealer_file=str(path), timezone="America/Denver", data_dir=None)
    assert p["timezone"] == "America/Denver"
    assert p["data_dir"].endswith("sample_data/D1")  # None means "not given"


def test_from_frames_reads_dst_edges_by_fold_0_and_mixed_date_styles():
    """In-code tables read DST edges by PEP 495 fold=0 (the repeated hour is the summer one, a
    skipped time keeps the offset before the change), and mixed date styles parse."""
    from ownercomm_kit.data import from_frames
    import pandas as pd

    cells = ["2026-11-01 01:30:00", "2026-03-08 02:30:00"]
    data = from_frames(
        {
            "customers": [{"customer_id": "1"}],
            "communications": [
                {
                    "message_id": str(i),
                    "customer_id": "1",
                    "sent_at": c,
                    "channel": "email",
                    "sender": "oem",
                    "category": "offer",
                }
                for i, c in enumerate(cells)
            ],
            "sales": [
                {"sale_id": "a", "customer_id": "1", "sale_date": "2026-06-19"},
                {"sale_id": "b", "customer_id": "1", "sale_date": "2026-06-18 10:30"},
            ],
        },
        timezone="America/New_York",
    )
    utc = data["communications"]["sent_at"].dt.tz_convert("UTC").tolist()
    assert utc == [
        pd.Timestamp("2026-11-01 05:30", tz="UTC"),  # 01:30 EDT, the first of the two
        pd.Timestamp("2026-03-08 07:30", tz="UTC"),
    ]  # 02:30 does not exist: 03:30 EDT
    assert data["communications"]["sent_at"].notna().all()
    assert [d.day for d in data["sales"]["sale_date"]] == [19, 18]


@pytest.mark.parametrize(
    "text",
    [
        "a: 007\n",
        "dealer_id: 007\nx: [1, 2\n",
        "a: b: c\n",
        "\t a: 1\n",
        "a: \x07\n",
        "a: 'x\n",
        "a: 1\na: 2\n",
        "a: !!python/object:os.system x\n",
        "a: 2026-01-01\nb: yes\nc: 1e3\nd: ~\n",
        "a: &x 1\nb: *x\n",
        'a: "\\u0000"\n',
        "%YAML 1.1\n---\na: 1\n",
    ],
)
def test_the_fast_yaml_loader_gives_the_pure_python_loaders_verdict(text):
    import yaml

    from ownercomm_kit import params as params_mod

    def read(load):
        try:
            return "ok", load(text)
        except yaml.YAMLError as e:
            return "error", getattr(e, "problem", str(e))

    assert read(params_mod._load_yaml) == read(yaml.safe_load)
