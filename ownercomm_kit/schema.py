"""The canonical data model of SPEC §2, defined once.

Every other module asks this one which tables exist, which columns they have, of what
kind, which are required, which values are allowed and how tables reference each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "str", "date", "timestamp", "bool", "int", "float", "enum", "tz", "list"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    allowed: tuple[str, ...] = ()  # for kind "enum": the canonical values
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: str | None  # primary key column (unique), None when the table has none
    required: bool = False  # the audit cannot run without it
    references: dict[str, str] = field(default_factory=dict)  # column -> "table.column"
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


CHANNELS = ("email", "sms", "phone", "mail")
SENDERS = ("oem", "sales", "dealer", "service", "fi")
CATEGORIES = (
    "service_reminder",
    "offer",
    "sales_promo",
    "conquest",
    "birthday",
    "anniversary",
    "warranty",
    "recall",
    "survey",
    "newsletter",
    "referral",
    "event",
    "transactional",
)
# Exempt from every rule but quiet_hours (SPEC §4).
EXEMPT_CATEGORIES = ("recall", "transactional")
# "Marketing" for non_preferred_channel and the suppression list (SPEC §4).
MARKETING_CATEGORIES = (
    "offer",
    "sales_promo",
    "conquest",
    "newsletter",
    "event",
    "birthday",
    "anniversary",
    "referral",
)
# customers.state: the 50 states, DC and the inhabited territories (USPS codes), SPEC §2.
US_STATES = (
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "PR",
    "VI",
    "GU",
    "AS",
    "MP",
)
MESSAGE_STATUSES = ("delivered", "bounced", "failed")
PAY_TYPES = ("customer", "warranty", "internal")
SERVICE_TYPES = ("maintenance", "repair", "recall", "tires", "other")
APPOINTMENT_STATUSES = ("scheduled", "kept", "no_show", "cancelled")
NEW_USED = ("new", "used")
LEAD_OUTCOMES = ("sold", "lost")
INCENTIVE_CATEGORIES = ("transactional", "experiential", "recognition", "altruistic")
REFERRAL_STATUSES = ("new", "contacted", "appointment", "sold", "lost")

C = Column

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            (
                C("customer_id", "id", True),
                C("first_name", "str"),
                C("last_name", "str"),
                C("email", "str"),
                C("phone", "str"),
                C("postal_code", "str"),
                C("state", "enum", allowed=US_STATES, doc="two-letter US state (USPS code); case and spaces ignored"),
                C("timezone", "tz", doc="IANA name; else the dealer's"),
                C("birth_date", "date"),
                C("preferred_channel", "enum", allowed=CHANNELS),
                C("email_opt_in", "bool"),
                C("sms_consent", "bool"),
                C("phone_dnc", "bool"),
                C("mail_opt_out", "bool"),
                C("household_id", "id"),
            ),
            key="customer_id",
            required=True,
        ),
        Table(
            "vehicles",
            (
                C("vin", "id", True),
                C("customer_id", "id", True),
                C("make", "str"),
                C("model", "str"),
                C("model_year", "int"),
                C("warranty_end", "date"),
            ),
            key="vin",
            references={"customer_id": "customers.customer_id"},
        ),
        Table(
            "sales",
            (
                C("sale_id", "id", True),
                C("customer_id", "id", True),
                C("sale_date", "date", True),
                C("vin", "id"),
                C("model", "str"),
                C("new_used", "enum", allowed=NEW_USED),
                C("price", "float"),
                C("salesperson", "str"),
                C("products", "list", doc="F&I products sold, ';'-separated"),
            ),
            key="sale_id",
            references={"customer_id": "customers.customer_id"},
        ),
        Table(
            "service_visits",
            (
                C("ro_id", "id", True),
                C("customer_id", "id", True),
                C("visit_date", "date", True),
                C("vin", "id"),
                C("pay_type", "enum", allowed=PAY_TYPES),
                C("amount", "float"),
                C("service_type", "enum", allowed=SERVICE_TYPES),
                C("mileage", "int"),
            ),
            key="ro_id",
            references={"customer_id": "customers.customer_id"},
        ),
        Table(
            "appointments",
            (
                C("appointment_id", "id", True),
                C("customer_id", "id", True),
                C("booked_at", "timestamp", True),
                C("scheduled_for", "timestamp", True),
                C("status", "enum", True, allowed=APPOINTMENT_STATUSES),
                C("vin", "id"),
                C("source", "str"),
            ),
            key="appointment_id",
            references={"customer_id": "customers.customer_id"},
        ),
        Table(
            "communications",
            (
                C("message_id", "id", True),
                C("customer_id", "id", True),
                C("sent_at", "timestamp", True),
                C("channel", "enum", True, allowed=CHANNELS),
                C("sender", "enum", True, allowed=SENDERS),
                C("category", "enum", True, allowed=CATEGORIES),
                C("campaign_id", "id"),
                C("vin", "id", doc="the vehicle a message is about"),
                C("model", "str"),
                C("offer_price", "float"),
                C("status", "enum", allowed=MESSAGE_STATUSES),
                C("opened_at", "timestamp"),
                C("clicked_at", "timestamp"),
                C("responded_at", "timestamp"),
                C("unsubscribed", "bool"),
            ),
            key="message_id",
            required=True,
            references={"customer_id": "customers.customer_id"},
        ),
        Table(
            "leads",
            (
                C("lead_id", "id", True),
                C("customer_id", "id", True),
                C("opened_at", "timestamp", True),
                C("closed_at", "timestamp"),
                C("outcome", "enum", allowed=LEAD_OUTCOMES),
                C("source", "str"),
            ),
            key="lead_id",
            references={"customer_id": "customers.customer_id"},
        ),
        Table(
            "referrals",
            (
                C("referral_id", "id", True),
                C("referrer_id", "id", True),
                C("referred_at", "timestamp", True),
                C("referred_name", "str"),
                C("referred_email", "str"),
                C("referred_phone", "str"),
                C("referred_customer_id", "id"),
                C("incentive_category", "enum", allowed=INCENTIVE_CATEGORIES),
                C("reward_value", "float"),
                C("status", "enum", allowed=REFERRAL_STATUSES),
                C("first_contact_at", "timestamp"),
                C("sold_at", "timestamp"),
                C("sale_id", "id"),
                C("acknowledged_at", "timestamp"),
            ),
            key="referral_id",
            references={"referrer_id": "customers.customer_id", "sale_id": "sales.sale_id"},
        ),
        Table(
            "declined_work",
            (
                C("ro_id", "id", True, doc="the repair order on which the work was recommended"),
                C("customer_id", "id", True),
                C("declined_at", "timestamp", True),
                C("vin", "id"),
                C("description", "str"),
                C("amount", "float"),
            ),
            key=None,  # one repair order can carry several declined items
            references={"customer_id": "customers.customer_id"},
            doc="recommended work the customer declined on a repair order",
        ),
    )
}

REQUIRED_TABLES = tuple(name for name, t in TABLES.items() if t.required)
# Which customer column makes a row an orphan when unknown (warning, SPEC §2).
CUSTOMER_COLUMN = {
    name: ("referrer_id" if name == "referrals" else "customer_id") for name in TABLES if name != "customers"
}
# The date columns checked against as_of (a date after as_of is a warning).
EVENT_DATE_COLUMN = {
    "sales": "sale_date",
    "service_visits": "visit_date",
    "appointments": "booked_at",
    "communications": "sent_at",
    "leads": "opened_at",
    "referrals": "referred_at",
    "declined_work": "declined_at",
}
# Columns whose types a loaded table carries (pandas dtypes per kind).
PANDAS_DTYPE = {
    "id": "string",
    "str": "string",
    "enum": "string",
    "tz": "string",
    "list": "string",
    "bool": "boolean",
    "int": "Int64",
    "float": "float64",
    # date: datetime64[ns] at midnight, naive (a calendar date)
    # timestamp: datetime64[ns, <dealer tz>]
}
