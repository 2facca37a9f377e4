"""Injected problems: for each SPEC §4 rule, messages that break that rule, with ground truth.

Each injection adds a few messages to one customer (customers are not shared between
injections when there are enough of them) so that one designated message breaks the rule;
(message, rule) goes to the ground truth. The added messages may break other rules too.
Rule thresholds are read from the parameters, like the clean base.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..audit import RULES as _CATALOG
from . import lives as lv
from .messages import CAT, CH, CHANNELS, SND, SENDERS, consent_ok
from .timeutil import NEVER, NS_DAY, NS_HOUR, NS_SECOND, convert_wall

# Every store and state rule of the rule catalog (``audit.catalog``): each names its method of
# ``Injector`` (``Rule.injector``), and a test checks that every rule has one.
RULES = tuple(_CATALOG)
# The order of the injections: rules needing particular customers go first, while fresh customers are plenty.
ORDER = (
    "better_offer_after_purchase",
    "promo_after_purchase",
    "reminder_after_service",
    "promo_during_open_lead",
    "conquest_to_owner",
    "non_preferred_channel",
    "no_consent",
    "quiet_hours",
    "cap_total",
    "cap_channel",
    "min_gap",
    "multi_sender",
    "duplicate_campaign",
    "after_opt_out",
    "state_quiet_hours",
    "state_contact_cap",
)
PLAIN = ("survey", "warranty", "newsletter", "event")  # non-exempt categories for filler messages
# The first injection of each rule sits at the edge of its window (the last moment or day
# that still breaks it); time-of-day edges keep a 2-hour margin for daylight-saving shifts.
EDGE_MARGIN = 2 * NS_HOUR


@dataclass
class Added:
    """Injected messages, column by column, and the rule each designated one breaks."""

    cols: dict = field(
        default_factory=lambda: {
            k: []
            for k in (
                "cust",
                "t",
                "cat",
                "sender",
                "channel",
                "campaign",
                "vidx",
                "model",
                "offer_price",
                "unsub",
                "rule",
            )
        }
    )

    def add(
        self,
        cust,
        t,
        cat,
        sender,
        channel,
        *,
        rule=None,
        campaign=None,
        vidx=-1,
        model=None,
        offer_price=np.nan,
        unsub=False,
    ):
        for k, v in zip(
            self.cols,
            (cust, int(t), CAT[cat], SND[sender], CH[channel], campaign, vidx, model, offer_price, unsub, rule),
        ):
            self.cols[k].append(v)

    def arrays(self) -> dict:
        out = {
            k: np.array(v, dtype=object if k in ("campaign", "model", "rule") else None) for k, v in self.cols.items()
        }
        for k in ("cust", "t", "cat", "sender", "channel", "vidx"):
            out[k] = out[k].astype(np.int64)
        out["offer_price"] = out["offer_price"].astype(float)
        out["unsub"] = out["unsub"].astype(bool)
        return out


class Injector:
    def __init__(self, rng, L: lv.Lives, params: dict, base: dict):
        self.rng, self.L, self.r, self.params = rng, L, params["rules"], params
        self.exempt = set(params["audit"]["exempt_categories"])
        self.n = len(L.cust["kind"])
        self.ok = consent_ok(L.cust)
        self.used: set[int] = set()
        self.out = Added()
        self.seq = 0
        ordered = len(base["t"]) < 2 or bool(
            np.all((np.diff(base["cust"]) > 0) | ((np.diff(base["cust"]) == 0) & (np.diff(base["t"]) >= 0)))
        )
        order = slice(None) if ordered else np.lexsort((base["t"], base["cust"]))
        # int64 like the customers looked up (a dtype mismatch would copy ten million rows per search)
        self.b_cust = base["cust"][order].astype(np.int64)
        self.b_t, self.b_sender = base["t"][order], base["sender"][order]
        self.end = (L.as_of_day + 1) * NS_DAY - NS_SECOND

    # --- helpers ---------------------------------------------------------------------------
    def pick(self, eligible: np.ndarray, k: int) -> np.ndarray:
        """k customers among ``eligible``, fresh ones first (so injections do not interact)."""
        eligible = np.unique(eligible)
        if len(eligible) == 0 or k == 0:
            return np.array([], dtype=np.int64)
        fresh = np.array([c for c in eligible if c not in self.used], dtype=np.int64)
        pool = fresh if len(fresh) >= k else eligible
        chosen = self.rng.choice(pool, size=min(k, len(pool)), replace=False)
        self.used.update(int(c) for c in chosen)
        return chosen

    def when(self, day: int, lo: float = 12, hi: float = 15) -> int:
        """Dealer wall-clock time on ``day`` in the early afternoon (same date in every US zone)."""
        return int(day) * NS_DAY + int(self.rng.integers(int(lo * 3600), int(hi * 3600))) * NS_SECOND

    def between(self, t0: int, t1: int) -> int:
        """A daytime moment in [t0, t1) (both dealer wall-clock ns), else the middle."""
        day = int(self.rng.integers(t0 // NS_DAY, t1 // NS_DAY + 1))
        t = self.when(day)
        if not t0 <= t < t1:
            t = (t0 + (t1 - t0) // 2) // NS_SECOND * NS_SECOND
        return max(t, t0)

    def any_day(self, lo: int | None = None) -> int:
        return int(self.rng.integers(max(lo or 0, self.L.start_day + 30), self.L.as_of_day + 1))

    def channel_for(self, cust: int) -> str:
        """A channel the customer may be reached on (email first), so only the target rule breaks."""
        ok = np.flatnonzero(self.ok[cust])
        return CHANNELS[int(ok[0])] if len(ok) else "email"

    def campaign(self, tag: str) -> str:
        self.seq += 1
        return f"X{tag}-{self.seq:05d}"

    def base_senders(self, cust: int, t0: int, t1: int) -> set[int]:
        lo = np.searchsorted(self.b_cust, cust, side="left")
        hi = np.searchsorted(self.b_cust, cust, side="right")
        ts = self.b_t[lo:hi]
        a, b = np.searchsorted(ts, t0, side="left"), np.searchsorted(ts, t1, side="right")
        return set(self.b_sender[lo + a : lo + b].tolist())

    # --- one method per rule ---------------------------------------------------------------
    def _burst(self, c, rule, n, days, channel, sender, edge):
        """n messages ending at one moment; at the edge the first is just inside the window."""
        t_end = self.when(self.any_day(self.L.start_day + days + 2))
        times = [t_end - i * 7 * 60 * NS_SECOND for i in range(n)][::-1]
        if edge and n > 1:
            times[0] = t_end - days * NS_DAY + EDGE_MARGIN
        for i, t in enumerate(times):
            self.out.add(c, t, PLAIN[i % 2], sender, channel, rule=rule if i == n - 1 else None)

    def cap_total(self, k):
        w = min(self.r["cap_total"]["windows"], key=lambda w: w["max"])
        for n, c in enumerate(self.pick(np.arange(self.n), k)):
            self._burst(c, "cap_total", w["max"] + 1, w["days"], self.channel_for(c), "service", n == 0)

    def cap_channel(self, k):
        wins = self.r["cap_channel"]["windows"]
        ch, w = min(((ch, w) for ch, ws in wins.items() for w in ws or []), key=lambda cw: cw[1]["max"])
        for n, c in enumerate(self.pick(np.arange(self.n), k)):
            self._burst(c, "cap_channel", w["max"] + 1, w["days"], ch, "dealer", n == 0)

    def min_gap(self, k):
        gaps = self.r["min_gap"]["gap_days"] or {}
        gap = gaps.get("survey", self.r["min_gap"]["default_gap_days"]) * NS_DAY
        for n, c in enumerate(self.pick(np.arange(self.n), k)):
            t0, ch = self.when(self.any_day()), self.channel_for(c)
            self.out.add(c, t0, "survey", "service", ch)
            later = gap - EDGE_MARGIN if n == 0 and gap > 2 * EDGE_MARGIN else 2 * NS_HOUR
            self.out.add(c, min(t0 + later, self.end), "survey", "oem", ch, rule="min_gap")

    def multi_sender(self, k):
        ms = self.r["multi_sender"]
        need = ms["max_senders"] + 1
        span = ms["window_days"] * NS_DAY
        for n, c in enumerate(self.pick(np.arange(self.n), k)):
            ch = self.channel_for(c)
            for _ in range(10):
                t_end = self.when(self.any_day(self.L.start_day + ms["window_days"] + 2))
                seen = self.base_senders(c, t_end - span - NS_DAY, t_end + NS_HOUR)
                free = [s for s in range(len(SENDERS)) if s not in seen]
                if len(free) >= need:
                    break
            else:
                continue
            times = [t_end - i * 20 * 60 * NS_SECOND for i in range(need)][::-1]
            if n == 0:  # the first sender just inside the window
                times[0] = t_end - span + EDGE_MARGIN
            for i, s in enumerate(free[:need]):
                self.out.add(c, times[i], PLAIN[i % 2], SENDERS[s], ch, rule="multi_sender" if i == need - 1 else None)

    def duplicate_campaign(self, k):
        for n, c in enumerate(self.pick(np.arange(self.n), k)):
            day, ch, camp = self.any_day(), self.channel_for(c), self.campaign("DUP")
            earlier = max(day - 400, self.L.start_day) if n == 0 else day - 2  # at any earlier time
            self.out.add(c, self.when(earlier), "newsletter", "dealer", ch, campaign=camp)
            self.out.add(c, self.when(day), "newsletter", "dealer", ch, campaign=camp, rule="duplicate_campaign")

    def _sales_in_window(self, need_model=False):
        s = self.L.sales
        m = (s["day"] >= self.L.start_day) & (s["day"] <= self.L.as_of_day)
        if need_model:
            m &= s["price"] > 0
        return np.flatnonzero(m)

    def _sale_of(self, c, rows):
        mine = rows[self.L.sales["cust"][rows] == c]
        return int(self.rng.choice(mine))

    def _age(self, n: int, days: int, room: int) -> int:
        """Days after the event: the window's last day first, then its first day, then any."""
        top = min(days, room)
        return top if n == 0 else 0 if n == 1 else int(self.rng.integers(0, top + 1))

    def promo_after_purchase(self, k):
        rule = self.r["promo_after_purchase"]
        rows = self._sales_in_window()
        s = self.L.sales
        for n, c in enumerate(self.pick(s["cust"][rows], k)):
            i = self._sale_of(c, rows)
            day = s["day"][i] + self._age(n, rule["days"], self.L.as_of_day - s["day"][i])
            cat = str(self.rng.choice(rule["categories"]))
            sender = "sales" if cat != "offer" else "oem"
            self.out.add(
                c,
                self.when(day),
                cat,
                sender,
                self.channel_for(c),
                campaign=self.campaign("PAP"),
                rule="promo_after_purchase",
            )

    def better_offer_after_purchase(self, k):
        rule = self.r["better_offer_after_purchase"]
        rows = self._sales_in_window(need_model=True)
        s = self.L.sales
        for n, c in enumerate(self.pick(s["cust"][rows], k)):
            i = self._sale_of(c, rows)
            day = s["day"][i] + self._age(n, rule["days"], self.L.as_of_day - s["day"][i])
            model = str(s["model"][i])
            model = (model.upper(), model.lower(), model)[int(self.rng.integers(0, 3))]  # case must not matter
            price = math.floor(s["price"][i] * self.rng.uniform(0.8, 0.97) / 10) * 10
            cat = str(self.rng.choice(rule["categories"]))
            self.out.add(
                c,
                self.when(day),
                cat,
                "oem" if cat == "offer" else "sales",
                self.channel_for(c),
                campaign=self.campaign("BOA"),
                model=model,
                offer_price=float(price),
                rule="better_offer_after_purchase",
            )

    def reminder_after_service(self, k):
        days = self.r["reminder_after_service"]["days"]
        vi, ap = self.L.visits, self.L.appts
        vrows = np.flatnonzero(vi["day"] >= self.L.start_day)
        live = np.flatnonzero(
            (ap["status"] != 3)
            & (ap["sched"] - ap["booked"] > 2 * NS_HOUR)
            & (ap["booked"] >= self.L.start_day * NS_DAY)
            & (ap["booked"] < self.end - NS_HOUR)
        )
        for n, c in enumerate(self.pick(np.concatenate([vi["cust"][vrows], ap["cust"][live]]), k)):
            mine_v = vrows[vi["cust"][vrows] == c]
            mine_a = live[ap["cust"][live] == c]
            if len(mine_a) and (n % 2 == 1 or not len(mine_v)):  # booked, not yet due
                i = int(self.rng.choice(mine_a))
                t1 = min(int(ap["sched"][i]), self.end)
                # booked_at <= sent_at < scheduled_for: at booking time, a minute before it is due, or between
                edge = {1: int(ap["booked"][i]), 3: t1 - 60 * NS_SECOND}.get(n)
                t = (
                    edge
                    if edge is not None and ap["booked"][i] <= edge < ap["sched"][i]
                    else self.between(int(ap["booked"][i]), t1)
                )
                self.out.add(
                    c,
                    t,
                    "service_reminder",
                    "service",
                    self.channel_for(c),
                    campaign=self.campaign("RAS"),
                    vidx=int(ap["veh"][i]),
                    rule="reminder_after_service",
                )
            else:
                i = int(self.rng.choice(mine_v))
                day = vi["day"][i] + self._age(n // 2, days, self.L.as_of_day - vi["day"][i])
                self.out.add(
                    c,
                    self.when(day),
                    "service_reminder",
                    "service",
                    self.channel_for(c),
                    campaign=self.campaign("RAS"),
                    vidx=int(vi["veh"][i]),
                    rule="reminder_after_service",
                )

    def conquest_to_owner(self, k):
        for c in self.pick(self.L.vehicles["cust"], k):
            self.out.add(
                c,
                self.when(self.any_day()),
                "conquest",
                str(self.rng.choice(["oem", "dealer"])),
                self.channel_for(c),
                campaign=self.campaign("CQO"),
                rule="conquest_to_owner",
            )

    def promo_during_open_lead(self, k):
        rule, le = self.r["promo_during_open_lead"], self.L.leads
        rows = np.flatnonzero((le["opened"] >= self.L.start_day * NS_DAY) & (le["opened"] < self.end - NS_HOUR))
        others = [s for s in SENDERS if s != rule["owner_sender"]]
        for n, c in enumerate(self.pick(le["cust"][rows], k)):
            i = int(self.rng.choice(rows[le["cust"][rows] == c]))
            close = int(le["closed"][i]) if le["closed"][i] > NEVER else self.end
            close = min(close, self.end)
            # opened_at <= sent_at < closed_at: at the opening, a minute before closing, or between
            t = {0: int(le["opened"][i]), 1: close - 60 * NS_SECOND}.get(n, self.between(int(le["opened"][i]), close))
            self.out.add(
                c,
                t,
                str(self.rng.choice(rule["categories"])),
                str(self.rng.choice(others)),
                self.channel_for(c),
                campaign=self.campaign("POL"),
                rule="promo_during_open_lead",
            )

    def no_consent(self, k):
        c_ = self.L.cust
        bad = np.stack(
            [
                c_["email_opt_in_known"] & ~c_["email_opt_in"],
                ~(c_["sms_consent_known"] & c_["sms_consent"]),
                c_["phone_dnc_known"] & c_["phone_dnc"],
                c_["mail_opt_out_known"] & c_["mail_opt_out"],
            ],
            axis=1,
        )
        for c in self.pick(np.flatnonzero(bad.any(axis=1)), k):
            ch = CHANNELS[int(self.rng.choice(np.flatnonzero(bad[c])))]
            self.out.add(c, self.when(self.any_day()), "survey", "service", ch, rule="no_consent")

    def after_opt_out(self, k):
        grace = self.r["after_opt_out"]["grace_business_days"]
        later = math.ceil(grace * 7 / 5) + 7  # calendar days, safely past the business-day grace
        for n, c in enumerate(self.pick(np.arange(self.n), k)):
            ch = self.channel_for(c)
            day = int(self.rng.integers(self.L.start_day + 30, max(self.L.start_day + 31, self.L.as_of_day - later)))
            day += (7 - (day + 3) % 7) if (day + 3) % 7 >= 5 else 0  # a weekday (1970-01-01 was a Thursday)
            self.out.add(c, self.when(day), "newsletter", "dealer", ch, campaign=self.campaign("UNS"), unsub=True)
            if n == 0:  # the first weekday after the grace period
                edge = int(np.busday_offset(np.datetime64(day, "D"), grace).astype(np.int64)) + 1
                edge += 2 if (edge + 3) % 7 == 5 else 0  # Saturday: on to Monday
                send = edge
            else:
                send = day + later
            self.out.add(c, self.when(min(send, self.L.as_of_day)), "survey", "dealer", ch, rule="after_opt_out")

    def quiet_hours(self, k):
        qh = self.r["quiet_hours"]
        start = [int(x) for x in str(qh["start"]).split(":")]
        end = [int(x) for x in str(qh["end"]).split(":")]
        zone = self.L.cust["timezone"]
        away = np.flatnonzero(np.array([z is not None and z != self.L.tz for z in zone]))
        chosen = list(self.pick(away, (k + 1) // 2)) + list(self.pick(np.arange(self.n), k // 2))
        for c in chosen:
            z = zone[c] or self.L.tz
            day = self.any_day()
            # Just before the start, exactly at the end, or later in the evening: local to the customer.
            # the last quiet minute before start, the first at end, later in the evening, early morning
            options = [
                (start[0] * 60 + start[1] - 1) * 60,
                (end[0] * 60 + end[1]) * 60,
                (end[0] * 60 + end[1] + 75) * 60,
                (start[0] * 60 + start[1] - 100) * 60,
            ]
            self.rng.shuffle(options)
            local = np.array([day * NS_DAY + sec * NS_SECOND for sec in options], dtype=np.int64)
            t = convert_wall(local, z, self.L.tz)
            minute = (t % NS_DAY) // (60 * NS_SECOND)
            fine_here = (minute >= start[0] * 60 + start[1]) & (minute < end[0] * 60 + end[1])
            # Prefer a time that is fine in the dealer's zone and quiet only in the customer's own.
            for i in sorted(range(len(options)), key=lambda i: not fine_here[i]):
                hour = minute[i] // 60
                if 5 <= hour <= 22 and t[i] <= self.end and options[i] >= 0:
                    self.out.add(
                        c, int(t[i]), "survey", "service", str(self.rng.choice(qh["channels"])), rule="quiet_hours"
                    )
                    break

    def non_preferred_channel(self, k):
        pref = self.L.cust["pref"]
        cats = self.r["non_preferred_channel"]["categories"]
        for c in self.pick(np.flatnonzero(pref >= 0), k):
            others = [i for i in range(len(CHANNELS)) if i != pref[c]]
            okc = [i for i in others if self.ok[c, i]] or others
            ch = CHANNELS[int(self.rng.choice(okc))]
            cat = str(self.rng.choice([x for x in cats if x != "conquest"]))
            self.out.add(
                c,
                self.when(self.any_day()),
                cat,
                "dealer",
                ch,
                campaign=self.campaign("NPC"),
                rule="non_preferred_channel",
            )

    # --- state laws (SPEC §4 State rules) --------------------------------------------------------
    def _law_customers(self):
        """Customers whose state (as the audit finds it) has a law in the parameters, and the law."""
        import pandas as pd

        from ..state_laws import customer_states, state_table

        laws = state_table(self.params)
        c = self.L.cust
        frame = pd.DataFrame(
            {
                "customer_id": np.arange(self.n).astype(str),
                "state": c["state"],
                "postal_code": c["postal_code"],
                "phone": np.where(c["has_phone"], c["phone"], None),
            }
        )
        st = customer_states(frame)["state"].to_numpy(dtype=object, na_value=None)
        return laws, st

    def _texts_or_calls(self, c, law) -> str | None:
        """sms or phone, one the customer consented to (so only the state rule breaks)."""
        ok = [ch for ch in law.channels if ch in ("sms", "phone") and self.ok[c, CH[ch]]]
        return ok[0] if ok else None

    @staticmethod
    def _in_force(law) -> int:
        """The first day (days since 1970) a law covers: messages before it are not the law's business."""
        try:
            return int(np.datetime64(str(law.effective)[:10], "D").astype(np.int64)) + 1  # +1: any zone's date
        except ValueError:
            return 0

    def _law_category(self, law) -> str:
        exempt = self.exempt | set(law.exempt_categories)
        return next(cat for cat in ("survey", "event", "newsletter", "offer") if cat not in exempt)

    def state_quiet_hours(self, k):
        laws, st = self._law_customers()
        qh = self.r["quiet_hours"]
        q0, q1 = (int(x) for x in str(qh["start"]).split(":")), (int(x) for x in str(qh["end"]).split(":"))
        q0, q1 = (lambda h, m: h * 60 + m)(*q0), (lambda h, m: h * 60 + m)(*q1)
        eligible = np.array(
            [
                i
                for i in range(self.n)
                if st[i] in laws
                and self._in_force(laws[st[i]]) + 2 <= self.L.as_of_day
                and self._texts_or_calls(i, laws[st[i]]) is not None
            ],
            dtype=np.int64,
        )
        for n, c in enumerate(self.pick(eligible, k)):
            law = laws[st[c]]
            s0 = int(law.start[:2]) * 60 + int(law.start[3:5])
            s1 = int(law.end[:2]) * 60 + int(law.end[3:5])
            # local minutes outside the state window but inside the federal one: the end itself first
            options = [m for m in range(s1, q1) if q0 <= m] + [m for m in range(q0, s0) if m < q1]
            if not options:
                continue
            minute = options[0] if n == 0 else options[int(self.rng.integers(0, len(options)))]
            z = self.L.cust["timezone"][c] or self.L.tz
            local = np.array([self.any_day(self._in_force(law)) * NS_DAY + minute * 60 * NS_SECOND], dtype=np.int64)
            t = int(convert_wall(local, z, self.L.tz)[0])
            if t <= self.end:
                self.out.add(
                    c, t, self._law_category(law), "sales", self._texts_or_calls(c, law), rule="state_quiet_hours"
                )

    def state_contact_cap(self, k):
        laws, st = self._law_customers()
        eligible = np.array(
            [
                i
                for i in range(self.n)
                if st[i] in laws
                and laws[st[i]].cap is not None
                and self._in_force(laws[st[i]]) + 4 <= self.L.as_of_day
                and self._texts_or_calls(i, laws[st[i]]) is not None
            ],
            dtype=np.int64,
        )
        for n, c in enumerate(self.pick(eligible, k)):
            law = laws[st[c]]
            ch, cat = self._texts_or_calls(c, law), self._law_category(law)
            width = int(law.cap_hours * 3600) * NS_SECOND
            t_end = self.when(self.any_day(max(self.L.start_day + 3, self._in_force(law) + 2)))
            times = [t_end - i * 7 * 60 * NS_SECOND for i in range(law.cap + 1)][::-1]
            if n == 0 and law.cap > 0:  # the first just inside the window
                times[0] = t_end - width + EDGE_MARGIN
            for i, t in enumerate(times):  # from every sender: the law counts them all
                self.out.add(
                    c, t, cat, SENDERS[i % len(SENDERS)], ch, rule="state_contact_cap" if i == law.cap else None
                )


def inject(rng, L: lv.Lives, params: dict, base: dict, rate: float) -> dict:
    """Injected messages (arrays like the base's plus ``rule``) for every rule of SPEC §4."""
    inj = Injector(rng, L, params, base)
    n = len(L.cust["kind"])
    k = max(1, round(rate * n)) if n else 0
    for rule in ORDER + tuple(r for r in RULES if r not in ORDER):  # a rule new to the catalog: last
        getattr(inj, rule)(k)
    return inj.out.arrays()
