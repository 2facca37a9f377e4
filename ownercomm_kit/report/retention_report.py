"""Sections of the retention report (SPEC §5): one function per notebook cell."""

from __future__ import annotations

import pandas as pd

from .. import outputs, retention, service, words
from ..kpis import registry
from . import charts, common, html, progress as progress_section, theme
from .notebook import ReportContext

# Labels and units from the KPI registry (one label per figure, everywhere).
KPIS = tuple((k, registry.label(k), registry.get(k).kind) for k in retention.KPI_KEYS)
EMPTY_TEMPLATES = {  # why a figure is empty, with the dealer's windows (``empty_reasons``)
    "first_year_service_retention": "no vehicle was sold between {window2} and {window} months before the report date",
    "service_customer_retention_12m": "no customer had a service visit between {window2} and {window} months ago",
    "appointment_show_rate_90d": "no appointment was kept or missed in the last {show_rate_days} days",
    "reminder_booking_rate_90d": "no service reminder was sent between {reminder_lookback_days} and "
    "{reminder_booking_days} days ago",
    "response_rate_90d": "no delivered message in the last {response_days} days",
    "repurchase_rate": "no customer made a first purchase {repurchase_months} months ago or earlier",
    **{
        f"segment_{k}_share": "no customer with a purchase or a service visit"
        for k in ("active", "recently_lost", "defected", "never_serviced")
    },
    "declined_work_recovery_90d": "no work was declined between {declined_recovery_lo} and {declined_days} days ago",
}


def empty_reasons(p: dict) -> dict[str, str]:
    """``EMPTY_TEMPLATES`` with the dealer's parameters (``params["retention"]``)."""
    values = {
        **p,
        "window": p["retention_window_months"],
        "window2": 2 * p["retention_window_months"],
        "declined_recovery_lo": 2 * p["declined_days"],
    }
    return {k: v.format(**values) for k, v in EMPTY_TEMPLATES.items()}


LABELS = {
    **{k: label for k, label, _ in KPIS},
    "weekly_appointments": "Weekly appointments",
    "cohort": "Service visits after a sale (cohorts)",
    "lapsed": "Lapsed customers",
    "response_by_channel": "Response by channel",
    "reminder_attribution": "Reminders and bookings",
    "due_for_service": "Due for service (call list)",
    "warranty_expiring": "Warranty expiring (call list)",
    "milestones": "Birthdays and anniversaries (call list)",
    "consenting": "Can be reached",
    "segment_flow": "How customers moved between segments",
    "recently_lost": "Recently lost (call list)",
    "mileage": "Miles per day and estimated mileage",
    "reminder_timing": "Reminder timing",
    "reminder_on_time_share": "Reminders on time",
    "declined_work": "Declined work (call list)",
    "declined_by_description": "Declined work by description",
    "age_bands": "Retention by vehicle age",
}
CALL_LISTS = (
    ("due_for_service", "due_for_service.csv", "Due for service", "Invite them in before they go elsewhere."),
    (
        "warranty_expiring",
        "warranty_expiring.csv",
        "Warranty ending soon",
        "Offer an extended warranty or a last warranty check.",
    ),
    ("milestones", "milestones.csv", "Birthdays and purchase anniversaries", "A personal note, not a sales pitch."),
    (
        "recently_lost",
        "recently_lost.csv",
        "Recently lost customers",
        "Their last visit was 12 to 24 months ago: win them back before they defect for good.",
    ),
    (
        "declined_work",
        "declined_work.csv",
        "Declined work not done yet",
        "Work the service advisor recommended and the customer declined: offer to book it.",
    ),
)
TABLES = ("customers", "vehicles", "sales", "service_visits", "appointments", "communications", "declined_work")
# What each call list counts (one unit per tile: the tile's label says it).
UNITS = {
    "due_for_service": ("vehicle", "vehicles"),
    "warranty_expiring": ("vehicle", "vehicles"),
    "milestones": ("birthday or anniversary", "birthdays and anniversaries"),
    "declined_work": ("item", "items"),
}
CUSTOMERS = ("customer", "customers")
LIST_LABELS = {
    "customer_id": "Customer",
    "name": "Name",
    "vehicle": "Vehicle",
    "vin": "VIN",
    "channel": "Contact by",
    "contact": "Contact",
    "reason": "Why",
    "due_reason": "Due by",
    "estimated_mileage": "Miles (est.)",
    "declined_at": "Declined",
    "description": "Work declined",
    "amount": "Amount",
    "ro_id": "Repair order",
}


def compute(ctx: ReportContext) -> retention.RetentionResult:
    result = retention.compute(ctx.data, ctx.params)
    ctx.results["retention"] = result
    return result


def save(ctx: ReportContext, r: retention.RetentionResult) -> None:
    """The call lists (full, unmasked: staff dial from them) and the KPIs into ``out_dir``."""
    for attr, filename, _, _ in CALL_LISTS:
        outputs.write_csv(getattr(r, attr), ctx.path(filename))
    outputs.update_kpis(ctx.out_dir, {k: r.kpis.get(k) for k in retention.KPI_KEYS})


def headline(ctx: ReportContext, r: retention.RetentionResult) -> None:
    html.section("headline", "Headline figures", "How well the dealership keeps its customers coming back.")
    changes = progress_section.changes(ctx, r.kpis, [k for k, *_ in KPIS])
    html.show(
        common.kpi_tiles(
            r.kpis, KPIS, r.definitions, r.skipped, empty_reasons(ctx.params["retention"]), changes=changes
        )
        + progress_section.baseline_line(ctx)
        + common.key_points(key_points(r))
    )


def progress(ctx: ReportContext, r: retention.RetentionResult) -> None:
    """Progress: the headline figures over the history and earlier reports, baseline marked (SPEC §10)."""
    progress_section.section(ctx, r.kpis, [k for k, *_ in KPIS])


def key_points(r: retention.RetentionResult) -> list[str]:
    points = []
    if not r.skipped.get("lapsed"):
        n = len(r.lapsed)
        points.append(
            f"{words.plural(n, 'customer')} {'has' if n == 1 else 'have'} not been back for service in 12 to 24 months."
        )
    for attr, filename, title, _ in CALL_LISTS:
        if not r.skipped.get(attr):
            points.append(
                f"{title}: {words.plural(_customers(getattr(r, attr)), 'customer')} to contact now ({filename})."
            )
    return points


def attention(ctx: ReportContext, r: retention.RetentionResult) -> None:
    """What is wrong: customers slipping away, missed appointments, reminders that do not work."""
    html.section(
        "attention",
        "What needs attention",
        "Customers who have stopped coming in, and where appointments and reminders fall through.",
    )
    parts = []
    note = common.skipped_note(r.skipped, "lapsed")
    if note:
        parts.append(note)
    else:
        n = len(r.lapsed)
        lo, hi = ctx.params["retention"]["lapsed_min_months"], ctx.params["retention"]["lapsed_max_months"]
        parts.append(
            html.paragraph(
                f"{words.plural(n, 'customer')} last came in for service between {lo} and {hi} months ago: they have most likely "
                "found another shop. Most recent first: they are the easiest to win back."
                if n
                else f"No customer's last service visit was between {lo} and {hi} months ago."
            )
        )
        shown = common.plain_codes(
            r.lapsed[
                ["customer_id", "name", "vehicle", "channel", "contact", "last_visit", "visits", "months_since_visit"]
            ]
        )
        parts.append(
            html.table(
                shown,
                labels={
                    **LIST_LABELS,
                    "last_visit": "Last visit",
                    "visits": "Visits",
                    "months_since_visit": "Months since",
                },
                formats={"last_visit": "date"},
                max_rows=15,
                mask_pii=ctx.mask_pii,
            )
        )
    wa = r.weekly_appointments
    if not r.skipped.get("weekly_appointments") and len(wa):
        kept, missed = int(wa["kept"].sum()), int(wa["no_show"].sum())
        if kept + missed:
            parts.append(
                html.paragraph(
                    f"Over the weeks shown below, {missed:,} of {kept + missed:,} appointments that were due were missed "
                    f"({words.share(missed / (kept + missed))})."
                )
            )
    ra = r.reminder_attribution
    if len(ra):
        parts.append("<h3>Service reminders and the bookings that followed</h3>")
        parts.append(
            html.table(
                common.plain_codes(ra),
                labels={
                    "sender": "Sent by",
                    "channel": "Channel",
                    "reminders": "Reminders",
                    "booked": "Followed by a booking",
                    "booking_rate": "Booking rate",
                },
                formats={"booking_rate": "pct"},
                max_rows=None,
                mask_pii=False,
            )
        )
    html.show("".join(parts))
    segment_flow(ctx, r)
    declined_summary(ctx, r)


def segment_flow(ctx: ReportContext, r: retention.RetentionResult) -> None:
    """Where last year's customers are now (lifecycle segments at A - 12 months and at A)."""
    note = common.skipped_note(r.skipped, "segment_flow")
    flow = r.segment_flow
    if note or flow.empty:
        html.show(note or html.note("No customer with a purchase or a service visit yet.", "skip"))
        return
    charts.show(
        charts.sankey(
            flow,
            source="from_segment",
            target="to_segment",
            value="customers",
            order=("new", *service.SEGMENTS),
            names=theme.SEGMENT_LABELS,
            colors=theme.SEGMENT_COLORS,
            left="(a year ago)",
            right="(now)",
            title="How customers moved between segments over the last 12 months",
            height=420,
        )
    )
    table = flow.assign(
        from_segment=flow["from_segment"].map(lambda v: theme.SEGMENT_LABELS.get(v, v)),
        to_segment=flow["to_segment"].map(lambda v: theme.SEGMENT_LABELS.get(v, v)),
    )
    html.show(
        html.paragraph(r.definitions.get("segment_flow", ""), "oc-lead")
        + html.table(
            table,
            labels={"from_segment": "A year ago", "to_segment": "Now", "customers": "Customers"},
            max_rows=None,
            mask_pii=False,
        )
    )


def declined_summary(ctx: ReportContext, r: retention.RetentionResult) -> None:
    """Declined work by description: what customers say no to, and how much of it is still open."""
    note = common.skipped_note(r.skipped, "declined_by_description")
    parts = ["<h3>Work customers declined</h3>"]
    months = words.plural(ctx.params["retention"]["segment_active_months"], "month")
    by = r.declined_by_description
    if note:
        parts.append(note)
    elif by.empty:
        parts.append(html.note(f"No work was declined in the last {months}.", "info"))
    else:
        total, still = float(by["amount"].sum()), int(by["still_open"].sum())
        parts.append(
            html.paragraph(
                f"{words.plural(int(by['items'].sum()), 'item')} worth ${total:,.0f} {'was' if int(by['items'].sum()) == 1 else 'were'} "
                f"declined in the last {months}; "
                f"{still:,} of them are still open (the customer has not been back since)."
            )
        )
        parts.append(
            html.table(
                by,
                labels={
                    "description": "Work declined",
                    "items": "Items",
                    "amount": "Amount declined",
                    "still_open": "Still open",
                },
                formats={"amount": "money"},
                max_rows=15,
                mask_pii=False,
            )
        )
        parts.append(html.paragraph(r.definitions.get("declined_by_description", ""), "oc-lead"))
    html.show("".join(parts))


def _customers(frame: pd.DataFrame) -> int:
    return int(frame["customer_id"].nunique()) if "customer_id" in frame.columns else len(frame)


def call_lists(ctx: ReportContext, r: retention.RetentionResult) -> None:
    """What to do: who to call, and the CSV files that hold the full lists."""
    html.section(
        "call-lists",
        "Who to call",
        "Customers to contact now. The full lists, with phone numbers and emails, are in the CSV files "
        "beside this report; here contact details are masked.",
    )
    # One unit for the tiles: customers (a list's rows may be vehicles or items; each list says so below).
    tiles = [
        html.Tile(
            label=title,
            value=None if r.skipped.get(attr) else _customers(getattr(r, attr)),
            kind="int",
            definition=r.definitions.get(attr, ""),
            reason=r.skipped.get(attr, ""),
        )
        for attr, _, title, _ in CALL_LISTS
    ]
    parts = [
        html.paragraph("Customers on each list (a customer with two vehicles or items on a list counts once):"),
        html.tiles(tiles),
    ]
    for attr, filename, title, advice in CALL_LISTS:
        frame = getattr(r, attr)
        parts.append(f"<h3>{html.esc(title)}</h3>")
        note = common.skipped_note(r.skipped, attr)
        if note:
            parts.append(note)
            continue
        unit = UNITS.get(attr, CUSTOMERS)
        parts.append(
            html.paragraph(
                f"{advice} Full list: {filename} ({words.plural(len(frame), *unit)}"
                + (f" of {words.plural(_customers(frame), 'customer')}" if unit != CUSTOMERS else "")
                + ")."
            )
        )
        left_off = r.excluded.get(attr, 0)
        if left_off:
            parts.append(
                html.note(
                    f"{words.plural(left_off, 'more customer', 'more customers')} "
                    f"{'qualifies' if left_off == 1 else 'qualify'} but cannot be contacted on any channel "
                    "they consent to; they are left off the list.",
                    "info",
                )
            )
        frame = common.plain_codes(frame.drop(columns=["vin"], errors="ignore"))  # the vehicle column names the VIN
        parts.append(
            html.table(
                frame,
                labels=LIST_LABELS,
                formats={c: "date" for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])},
                max_rows=10,
                mask_pii=ctx.mask_pii,
                empty="Nobody on this list today.",
            )
        )
    html.show("".join(parts))


def trends(ctx: ReportContext, r: retention.RetentionResult) -> None:
    html.section("trends", "Trends", "Appointments week by week, and which channels customers answer.")
    wa = r.weekly_appointments
    if r.skipped.get("weekly_appointments"):
        html.show(common.skipped_note(r.skipped, "weekly_appointments"))
    else:
        long = wa.melt(
            id_vars="week",
            value_vars=["kept", "no_show", "cancelled", "scheduled"],
            var_name="status",
            value_name="appointments",
        )
        charts.show(
            charts.bar(
                long,
                x="week",
                y="appointments",
                color="status",
                color_kind="status",
                title="Service appointments per week",
                y_title="Appointments",
                names={"kept": "Kept", "no_show": "No-show", "cancelled": "Cancelled", "scheduled": "Still open"},
            )
        )
        html.show(html.paragraph(r.definitions.get("weekly_appointments", ""), "oc-lead"))
    rc = r.response_by_channel
    if r.skipped.get("response_by_channel") or rc.empty:
        html.show(
            common.skipped_note(r.skipped, "response_by_channel")
            or html.note(f"No delivered message in the last {ctx.params['retention']['response_days']} days.", "skip")
        )
    else:
        charts.show(
            charts.bar(
                rc,
                x="channel",
                y="response_rate",
                color="channel",
                color_kind="channel",
                title=f"{registry.label('response_rate_90d')}, by channel",
                y_title=registry.label("response_rate_90d"),
                names=theme.CHANNEL_LABELS,
                hover_format=".1%",
            )
        )
        html.show(html.paragraph(r.definitions.get("response_by_channel", ""), "oc-lead"))


def cohorts(ctx: ReportContext, r: retention.RetentionResult) -> None:
    html.section("cohorts", "Do buyers come back for service?", r.definitions.get("cohort", ""))
    note = common.skipped_note(r.skipped, "cohort")
    if note or r.cohort.empty:
        html.show(note or html.note("Not enough sales with a full quarter of history yet.", "skip"))
        age_bands(ctx, r)
        return
    cells = r.cohort.assign(quarters_since_sale=[f"Q+{int(c)}" for c in r.cohort["quarters_since_sale"]])
    charts.show(
        charts.cohort_heatmap(
            cells,
            row="sale_quarter",
            col="quarters_since_sale",
            share="share",
            count="vehicles",
            min_count=int(ctx.params["retention"]["cohort_min_vehicles"]),
            title="Share of vehicles with a service visit, by quarter after the sale",
            x_title="Quarter after the sale",
            y_title="Quarter sold",
            value_name="with a visit",
            height=max(300, 46 * cells["sale_quarter"].nunique() + 140),
        )
    )
    html.show(
        html.paragraph(
            "Each cell: the share of the quarter's vehicles with a visit, and of how many vehicles. "
            f"Grey: fewer than {int(ctx.params['retention']['cohort_min_vehicles']):,} vehicles, "
            "too few to judge (the number is how many).",
            "oc-lead",
        )
    )
    age_bands(ctx, r)


def age_bands(ctx: ReportContext, r: retention.RetentionResult) -> None:
    """Retention by vehicle age band (model year), beside the cohort heat map."""
    parts = ["<h3>Retention by vehicle age</h3>"]
    note = common.skipped_note(r.skipped, "age_bands")
    if note or r.age_bands.empty:
        parts.append(note or html.note("No vehicle to count.", "skip"))
    else:
        parts.append(
            html.table(
                r.age_bands,
                labels={
                    "age_band": "Vehicle age",
                    "sold_vehicles": "Sold 12-24 months ago",
                    "back_within_first_year": "Back within their first year",
                    "first_year_retention": "First-year retention",
                    "serviced_vehicles": "Serviced 12-24 months ago",
                    "back_in_last_12m": "Back in the last 12 months",
                    "retention_12m": "12-month retention",
                },
                formats={"first_year_retention": "pct", "retention_12m": "pct"},
                max_rows=None,
                mask_pii=False,
            )
        )
        parts.append(html.paragraph(r.definitions.get("age_bands", ""), "oc-lead"))
    html.show("".join(parts))


def data_quality(ctx: ReportContext, r: retention.RetentionResult) -> None:
    common.data_quality(ctx, tables=TABLES, skipped=r.skipped, section_labels=LABELS)


def definitions(ctx: ReportContext, r: retention.RetentionResult) -> None:
    common.definitions(ctx, r.definitions, LABELS)
