"""Deterministic demo and benchmark data.

One generator serves the demo (``make run``), the integration tests and the benchmark
organization: what the demo shows is what the tests test. Generation is pure (numpy with a
fixed seed, relative to an ``anchor`` instant, normally "now"), so the same anchor gives
the same rows; writing is bulk (COPY on PostgreSQL, executemany on SQLite).

The data is built to obey the booking rules it will later be checked against: every
appointment lies inside a schedule block, outside exceptions, without overlapping another
time-holding appointment of the same practitioner (group blocks hold up to their capacity),
and with the organization's buffer between individual appointments.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text

from data.db import Database
from data.local_facts import local_facts_frame
from data.models import Base

# --------------------------------------------------------------------------- plans

APPOINTMENT_TYPES: tuple[tuple[str, str, int, str, bool], ...] = (
    # code, name, default minutes, encounter type, group
    ("new-patient", "New patient", 40, "consultation", False),
    ("follow-up", "Follow-up", 20, "follow-up", False),
    ("procedure", "Procedure", 60, "procedure", False),
    ("telehealth", "Telehealth", 20, "virtual", False),
    ("group-therapy", "Group therapy", 90, "group-session", True),
)
GROUP_CAPACITY = 8
SLOT_MINUTES = 20

# specialty, weight, share of procedures among multi-slot visits, telehealth share, group
SPECIALTIES: tuple[tuple[str, int, float, float, bool], ...] = (
    ("Family Medicine", 8, 0.10, 0.20, False),
    ("Pediatrics", 5, 0.05, 0.10, False),
    ("Cardiology", 3, 0.35, 0.10, False),
    ("Dermatology", 3, 0.45, 0.15, False),
    ("Orthopedics", 3, 0.50, 0.05, False),
    ("Physiotherapy", 4, 0.20, 0.05, False),
    ("Psychology", 4, 0.00, 0.35, True),
)

GIVEN_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Elijah",
    "Sophia",
    "James",
    "Isabella",
    "William",
    "Mia",
    "Benjamin",
    "Amelia",
    "Lucas",
    "Harper",
    "Henry",
    "Evelyn",
    "Theodore",
    "Abigail",
    "Jack",
    "Emily",
    "Levi",
    "Elizabeth",
    "Alexander",
    "Sofia",
    "Jackson",
    "Avery",
    "Mateo",
    "Ella",
    "Daniel",
    "Scarlett",
    "Michael",
    "Grace",
    "Mason",
    "Chloe",
    "Sebastian",
    "Victoria",
    "Ethan",
    "Riley",
    "Logan",
    "Aria",
    "Owen",
    "Lily",
    "Samuel",
    "Aurora",
    "Jacob",
    "Zoey",
    "Asher",
    "Nora",
    "Aiden",
    "Hannah",
    "John",
    "Layla",
    "Joseph",
    "Penelope",
    "Wyatt",
    "Lillian",
    "David",
    "Addison",
    "Leo",
    "Eleanor",
    "Luke",
    "Natalie",
    "Julian",
    "Luna",
    "Hudson",
    "Savannah",
    "Grayson",
    "Brooklyn",
    "Matthew",
    "Leah",
    "Ezra",
    "Zoe",
    "Gabriel",
    "Stella",
    "Carter",
    "Hazel",
    "Isaac",
    "Ellie",
    "Jayden",
    "Paisley",
    "Luca",
    "Audrey",
    "Anthony",
    "Skylar",
    "Dylan",
    "Violet",
    "Lincoln",
    "Claire",
    "Thomas",
    "Bella",
    "Maverick",
    "Lucy",
    "Elias",
    "Anna",
    "Josiah",
    "Samantha",
    "Charles",
    "Caroline",
    "Caleb",
    "Genesis",
    "Christopher",
    "Aaliyah",
    "Ezekiel",
    "Kennedy",
    "Miles",
    "Kinsley",
    "Jaxon",
    "Allison",
    "Isaiah",
    "Maya",
    "Andrew",
    "Sarah",
    "Joshua",
    "Madelyn",
    "Nathan",
    "Adeline",
    "Nolan",
    "Alexa",
    "Adrian",
    "Ariana",
    "Cameron",
    "Elena",
    "Santiago",
    "Gabriella",
    "Eli",
    "Naomi",
    "Aaron",
    "Alice",
    "Ryan",
    "Sadie",
    "Angel",
    "Hailey",
    "Cooper",
    "Eva",
    "Waylon",
    "Emilia",
    "Easton",
    "Autumn",
    "Kai",
    "Quinn",
    "Christian",
    "Nevaeh",
    "Landon",
    "Piper",
    "Colton",
    "Ruby",
    "Roman",
    "Serenity",
    "Axel",
    "Willow",
    "Brooks",
    "Everly",
    "Jonathan",
    "Cora",
    "Robert",
    "Kaylee",
    "Jameson",
    "Lydia",
    "Ian",
    "Aubrey",
    "Everett",
    "Arianna",
    "Greyson",
    "Eliana",
    "Wesley",
    "Peyton",
    "Jeremiah",
    "Melanie",
    "Hunter",
    "Gianna",
    "Leonardo",
    "Isabelle",
    "Jordan",
    "Julia",
    "Jose",
    "Valentina",
    "Bennett",
    "Nova",
    "Silas",
    "Clara",
    "Nicholas",
    "Vivian",
    "Parker",
    "Reagan",
    "Beau",
    "Mackenzie",
    "Weston",
    "Madeline",
    "Austin",
    "Brielle",
    "Connor",
    "Delilah",
    "Carson",
    "Isla",
    "Dominic",
    "Rylee",
    "Xavier",
    "Katherine",
    "Jaxson",
    "Sophie",
    "Jace",
    "Josephine",
    "Emmett",
    "Ivy",
    "Adam",
    "Liliana",
    "Declan",
    "Jade",
    "Rowan",
    "Maria",
    "Micah",
    "Taylor",
    "Kayden",
    "Hadley",
    "Gael",
    "Kylie",
    "Ayden",
    "Emery",
    "Chase",
    "Adalynn",
    "Ryder",
    "Natalia",
    "Kingston",
    "Annabelle",
    "Tanvir",
    "Priya",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Omar",
    "Fatima",
    "Diego",
    "Lucia",
    "Mateus",
    "Ana",
    "Kwame",
    "Amara",
    "Ivan",
    "Olga",
    "Rahul",
    "Ananya",
    "Chen",
    "Lin",
    "Tariq",
    "Leila",
]
FAMILY_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Gonzales",
    "Fisher",
    "Vasquez",
    "Simmons",
    "Romero",
    "Jordan",
    "Patterson",
    "Alexander",
    "Hamilton",
    "Graham",
    "Reynolds",
    "Griffin",
    "Wallace",
    "Moreno",
    "West",
    "Cole",
    "Hayes",
    "Bryant",
    "Herrera",
    "Gibson",
    "Ellis",
    "Tran",
    "Medina",
    "Aguilar",
    "Stevens",
    "Murray",
    "Ford",
    "Castro",
    "Marshall",
    "Owens",
    "Harrison",
    "Fernandez",
    "McDonald",
    "Woods",
    "Washington",
    "Kennedy",
    "Wells",
    "Vargas",
    "Henry",
    "Chen",
    "Freeman",
    "Webb",
    "Tucker",
    "Guzman",
    "Burns",
    "Crawford",
    "Olson",
    "Simpson",
    "Porter",
    "Hunter",
    "Gordon",
    "Mendez",
    "Silva",
    "Shaw",
    "Snyder",
    "Mason",
    "Dixon",
    "Munoz",
    "Hunt",
    "Hicks",
    "Holmes",
    "Palmer",
    "Wagner",
    "Black",
    "Robertson",
    "Boyd",
    "Rose",
    "Stone",
    "Salazar",
    "Fox",
    "Warren",
    "Mills",
    "Meyer",
    "Rice",
    "Schmidt",
    "Garza",
    "Daniels",
    "Ferguson",
    "Nichols",
    "Stephens",
    "Soto",
    "Weaver",
    "Ryan",
    "Gardner",
    "Payne",
    "Grant",
    "Dunn",
    "Kelley",
    "Spencer",
    "Hawkins",
    "Arnold",
    "Pierce",
    "Vazquez",
    "Hansen",
    "Peters",
    "Santos",
    "Hart",
    "Bradley",
    "Knight",
    "Elliott",
    "Cunningham",
    "Duncan",
    "Armstrong",
    "Hudson",
    "Carroll",
    "Lane",
    "Riley",
    "Andrews",
    "Alvarado",
    "Ray",
    "Delgado",
    "Berry",
    "Perkins",
    "Hoffman",
    "Johnston",
    "Matthews",
    "Pena",
    "Richards",
    "Contreras",
    "Willis",
    "Carpenter",
    "Lawrence",
    "Sandoval",
    "Okafor",
    "Mensah",
    "Haddad",
    "Nakamura",
    "Kowalski",
    "Novak",
    "Ivanova",
    "Sharma",
    "Iyer",
    "Zhang",
    "Wang",
    "Yamamoto",
    "Rossi",
    "Bianchi",
    "Dubois",
    "Lefebvre",
    "Costa",
    "Oliveira",
    "Murphy",
]


@dataclass(frozen=True)
class ClinicPlan:
    name: str
    timezone: str
    address: str


@dataclass(frozen=True)
class UserPlan:
    """A demo sign-in. The password is public (README, seed output): demo data only."""

    role: str
    name: str
    email: str
    password: str
    # Practitioner accounts are the organization's first practitioner.
    is_practitioner: bool = False


def demo_users(domain: str, label: str, *, staff: bool = True) -> tuple[UserPlan, ...]:
    """One account per role (``staff=False``: the administrator only)."""
    names = (
        ("admin", "Dana Whitfield"),
        ("manager", "Priya Raman"),
        ("coordinator", "Marcus Bell"),
        ("front-desk", "Sofia Alvarez"),
        ("practitioner", ""),
    )
    return tuple(
        UserPlan(
            role=role,
            name=name,
            email=f"{role.replace('-', '')}@{domain}",
            password=f"{label}-{role.replace('-', '')}-demo",
            is_practitioner=role == "practitioner",
        )
        for role, name in (names if staff else names[:1])
    )


@dataclass(frozen=True)
class OrgPlan:
    name: str
    timezone: str
    clinics: tuple[ClinicPlan, ...]
    practitioners: int
    patients: int
    buffer_minutes: int = 0
    min_notice_minutes: int = 60
    booking_horizon_days: int = 90
    second_clinic_share: float = 0.3
    users: tuple[UserPlan, ...] = ()
    settings: dict[str, bool] = field(
        default_factory=lambda: {
            "notify_practitioner": True,
            "notify_patient": True,
            "notify_coordinators": True,
        }
    )


@dataclass(frozen=True)
class SeedProfile:
    organizations: tuple[OrgPlan, ...]
    history_days: int
    future_days: int
    history_fill: float = 0.78
    with_encounters: bool = True
    # Events and notifications for the recent past, so the activity feed has content.
    recent_event_days: int = 14


DEMO_PROFILE = SeedProfile(
    organizations=(
        OrgPlan(
            name="Harbor Health Partners",
            timezone="America/New_York",
            clinics=(
                ClinicPlan("Harbor Main Clinic", "America/New_York", "100 Harbor St, Boston, MA"),
                ClinicPlan("Downtown Clinic", "America/New_York", "12 Court Sq, Boston, MA"),
                ClinicPlan("Riverside Clinic", "America/New_York", "48 River Rd, Cambridge, MA"),
                ClinicPlan("Desert View Clinic", "America/Phoenix", "900 E Camelback, Phoenix, AZ"),
            ),
            practitioners=27,
            patients=2_800,
            buffer_minutes=0,
            users=demo_users("harbor.example", "harbor"),
        ),
        OrgPlan(
            name="Sunvale Family Practice",
            timezone="America/Phoenix",
            clinics=(ClinicPlan("Sunvale Clinic", "America/Phoenix", "5 Mesa Dr, Tempe, AZ"),),
            practitioners=4,
            patients=300,
            buffer_minutes=10,
            second_clinic_share=0.0,
            users=demo_users("sunvale.example", "sunvale", staff=False),
        ),
    ),
    history_days=365,
    future_days=61,
)

LARGE_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
)


def large_profile(scale: float = 1.0) -> SeedProfile:
    """The benchmark organization: at scale 1, 30 clinics, 300 practitioners, 200,000
    patients and about 3 million appointments over 5 years, plus a small second
    organization so isolation is exercised at size too."""
    n_clinics = max(1, round(30 * scale))
    clinics = tuple(
        ClinicPlan(
            f"Metro Clinic {i + 1:02d}", LARGE_ZONES[i % len(LARGE_ZONES)], f"{i + 1} Main St"
        )
        for i in range(n_clinics)
    )
    return SeedProfile(
        organizations=(
            OrgPlan(
                name="Metro Health System",
                timezone="America/New_York",
                clinics=clinics,
                practitioners=max(2, round(300 * scale)),
                patients=max(100, round(200_000 * scale)),
                users=demo_users("metro.example", "metro"),
            ),
            DEMO_PROFILE.organizations[1],
        ),
        history_days=5 * 365 - 61,
        future_days=61,
        history_fill=0.48,
        with_encounters=False,
    )


# --------------------------------------------------------------------------- generation


@dataclass
class _Ids:
    next: dict[str, int]

    def take(self, table: str, n: int) -> np.ndarray:
        start = self.next.get(table, 1)
        self.next[table] = start + n
        return np.arange(start, start + n, dtype=np.int64)


def _us_holidays(years: Iterable[int]) -> list[tuple[date, str]]:
    out: list[tuple[date, str]] = []
    for y in years:
        out.append((date(y, 1, 1), "New Year's Day"))
        out.append((date(y, 7, 4), "Independence Day"))
        out.append((date(y, 12, 25), "Christmas Day"))
        may31 = date(y, 5, 31)
        out.append((may31 - timedelta(days=may31.weekday()), "Memorial Day"))
        sep1 = date(y, 9, 1)
        out.append((sep1 + timedelta(days=(0 - sep1.weekday()) % 7), "Labor Day"))
        nov1 = date(y, 11, 1)
        first_thu = nov1 + timedelta(days=(3 - nov1.weekday()) % 7)
        out.append((first_thu + timedelta(weeks=3), "Thanksgiving"))
    return out


def _local_midnight_utc(d: date, tz: str) -> datetime:
    return datetime.combine(d, time(0), ZoneInfo(tz)).astimezone(UTC)


def _to_utc(local_naive: pd.Series | pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    # Wall-clock times that do not exist (spring forward) become NaT and are dropped by
    # the caller; repeated ones (fall back) take the first, standard-time-earlier, offset.
    idx = pd.DatetimeIndex(local_naive)
    return idx.tz_localize(tz, ambiguous=True, nonexistent="NaT").tz_convert("UTC")


def generate(
    profile: SeedProfile,
    anchor: datetime,
    seed: int = 20240601,
    id_start: dict[str, int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Build every table's rows for ``profile`` as DataFrames, without touching a database."""
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    anchor = anchor.astimezone(UTC)
    rng = np.random.default_rng(seed)
    ids = _Ids(dict(id_start or {}))
    frames: dict[str, list[pd.DataFrame]] = {}

    def add(table: str, df: pd.DataFrame) -> None:
        frames.setdefault(table, []).append(df)

    for plan in profile.organizations:
        if progress:
            progress(f"generating {plan.name}")
        _generate_org(plan, profile, anchor, rng, ids, add)

    return {t: pd.concat(parts, ignore_index=True) for t, parts in frames.items()}


def _generate_org(
    plan: OrgPlan,
    profile: SeedProfile,
    anchor: datetime,
    rng: np.random.Generator,
    ids: _Ids,
    add: Callable[[str, pd.DataFrame], None],
) -> None:
    org_tz = ZoneInfo(plan.timezone)
    today = anchor.astimezone(org_tz).date()
    first_day = today - timedelta(days=profile.history_days)
    last_day = today + timedelta(days=profile.future_days)
    created = datetime.combine(first_day - timedelta(days=60), time(9), UTC)

    org_id = int(ids.take("organizations", 1)[0])
    add(
        "organizations",
        pd.DataFrame(
            [
                {
                    "id": org_id,
                    "name": plan.name,
                    "timezone": plan.timezone,
                    "buffer_minutes": plan.buffer_minutes,
                    "min_notice_minutes": plan.min_notice_minutes,
                    "booking_horizon_days": plan.booking_horizon_days,
                    "settings": json.dumps(plan.settings),
                    "created_at": created,
                }
            ]
        ),
    )

    # ---- clinics
    clinic_ids = ids.take("clinics", len(plan.clinics))
    clinics = pd.DataFrame(
        {
            "id": clinic_ids,
            "organization_id": org_id,
            "name": [c.name for c in plan.clinics],
            "timezone": [c.timezone for c in plan.clinics],
            "address": [c.address for c in plan.clinics],
            "active": True,
        }
    )
    add("clinics", clinics)
    clinic_tz = dict(zip(clinic_ids.tolist(), clinics["timezone"], strict=True))

    # ---- appointment types
    type_ids = ids.take("appointment_types", len(APPOINTMENT_TYPES))
    add(
        "appointment_types",
        pd.DataFrame(
            {
                "id": type_ids,
                "organization_id": org_id,
                "code": [t[0] for t in APPOINTMENT_TYPES],
                "name": [t[1] for t in APPOINTMENT_TYPES],
                "default_duration_minutes": [t[2] for t in APPOINTMENT_TYPES],
                "encounter_type": [t[3] for t in APPOINTMENT_TYPES],
                "is_group": [t[4] for t in APPOINTMENT_TYPES],
                "active": True,
            }
        ),
    )
    type_id = dict(zip([t[0] for t in APPOINTMENT_TYPES], type_ids.tolist(), strict=True))
    type_encounter = {type_id[t[0]]: t[3] for t in APPOINTMENT_TYPES}

    # ---- practitioners, assignments, schedules
    weights = np.array([s[1] for s in SPECIALTIES], dtype=float)
    spec_idx = rng.choice(len(SPECIALTIES), size=plan.practitioners, p=weights / weights.sum())
    if plan.practitioners >= len(SPECIALTIES):  # every specialty present
        spec_idx[: len(SPECIALTIES)] = np.arange(len(SPECIALTIES))
    prac_ids = ids.take("practitioners", plan.practitioners)
    given = rng.choice(GIVEN_NAMES, size=plan.practitioners)
    family = rng.choice(FAMILY_NAMES, size=plan.practitioners)
    add(
        "practitioners",
        pd.DataFrame(
            {
                "id": prac_ids,
                "organization_id": org_id,
                "name": [f"Dr. {g} {f}" for g, f in zip(given, family, strict=True)],
                "specialty": [SPECIALTIES[i][0] for i in spec_idx],
                "active": True,
                "is_placeholder": False,
            }
        ),
    )
    # Who the demo's recent events are attributed to: the staff account of that role, or
    # a label when the organization has none.
    actors: dict[str, tuple[int | None, str]] = {
        "front-desk": (None, "Front desk (demo)"),
        "coordinator": (None, "Coordinator (demo)"),
    }
    if plan.users:
        first_practitioner = (int(prac_ids[0]), f"Dr. {given[0]} {family[0]}")
        users = _users_frame(plan.users, org_id, first_practitioner, created, ids)
        add("users", users)
        for uid, role, name in zip(users["id"], users["role"], users["name"], strict=True):
            if role in actors:
                actors[role] = (int(uid), str(name))

    assign_rows: list[dict[str, object]] = []
    sched_rows: list[dict[str, object]] = []
    valid_from = first_day - timedelta(days=30)
    n_clinics = len(plan.clinics)
    for i, pid in enumerate(prac_ids.tolist()):
        home = int(clinic_ids[i % n_clinics])
        clinics_of = [home]
        if n_clinics > 1 and rng.random() < plan.second_clinic_share:
            other = int(clinic_ids[(i + 1 + int(rng.integers(0, n_clinics - 1))) % n_clinics])
            if other != home:
                clinics_of.append(other)
        for c in clinics_of:
            assign_rows.append(
                {
                    "practitioner_id": pid,
                    "clinic_id": c,
                    "active_from": valid_from,
                    "active_to": None,
                }
            )
        n_days = 5 if rng.random() < 0.6 else 4
        workdays = sorted(rng.choice(5, size=n_days, replace=False).tolist())
        for wd in workdays:
            # One clinic a day keeps a practitioner from being in two places at once.
            clinic = clinics_of[1] if len(clinics_of) > 1 and wd in (1, 3) else home
            both = rng.random() < 0.8
            morning = both or rng.random() < 0.5
            if morning:
                sched_rows.append(_block(pid, clinic, wd, time(8), time(12), valid_from))
            if both or not morning:
                sched_rows.append(_block(pid, clinic, wd, time(13), time(17), valid_from))
        if rng.random() < 0.08:
            sched_rows.append(_block(pid, home, 5, time(9), time(12), valid_from))
        if SPECIALTIES[spec_idx[i]][4]:
            sched_rows.append(
                {
                    **_block(pid, home, 3, time(17, 30), time(19), valid_from),
                    "slot_minutes": 90,
                    "capacity": GROUP_CAPACITY,
                    "appointment_type_id": type_id["group-therapy"],
                }
            )
    assignments = pd.DataFrame(assign_rows)
    assignments.insert(0, "id", ids.take("clinic_assignments", len(assignments)))
    add("clinic_assignments", assignments)
    schedules = pd.DataFrame(sched_rows)
    schedules.insert(0, "id", ids.take("schedules", len(schedules)))
    add("schedules", schedules)

    # ---- exceptions: clinic holidays, practitioner leave, one clinic closure
    exc_rows: list[dict[str, object]] = []
    closed: set[tuple[int, date]] = set()  # (clinic, local date)
    on_leave: set[tuple[int, date]] = set()  # (practitioner, local date)
    for d, label in _us_holidays(range(first_day.year, last_day.year + 1)):
        if not first_day <= d <= last_day:
            continue
        for cid in clinic_ids.tolist():
            tz = clinic_tz[cid]
            exc_rows.append(
                {
                    "organization_id": org_id,
                    "practitioner_id": None,
                    "clinic_id": cid,
                    "start_at": _local_midnight_utc(d, tz),
                    "end_at": _local_midnight_utc(d + timedelta(days=1), tz),
                    "reason": "holiday",
                    "note": label,
                    "created_at": created,
                }
            )
            closed.add((cid, d))
    span = (last_day - first_day).days
    prac_home = {int(p): int(clinic_ids[i % n_clinics]) for i, p in enumerate(prac_ids)}
    for pid in prac_ids.tolist():
        n_leaves = int(rng.poisson(0.6 * max(1.0, profile.history_days / 365)))
        for _ in range(n_leaves):
            start = first_day + timedelta(days=int(rng.integers(0, max(1, span - 7))))
            start -= timedelta(days=start.weekday())  # leave runs Monday to Friday
            tz = clinic_tz[prac_home[pid]]
            exc_rows.append(
                {
                    "organization_id": org_id,
                    "practitioner_id": pid,
                    "clinic_id": None,
                    "start_at": _local_midnight_utc(start, tz),
                    "end_at": _local_midnight_utc(start + timedelta(days=5), tz),
                    "reason": "leave",
                    "note": "Annual leave",
                    "created_at": created,
                }
            )
            on_leave.update((pid, start + timedelta(days=k)) for k in range(5))
    if n_clinics > 1:
        closure_clinic = int(clinic_ids[-1])
        closure_day = today + timedelta(days=23)
        tz = clinic_tz[closure_clinic]
        exc_rows.append(
            {
                "organization_id": org_id,
                "practitioner_id": None,
                "clinic_id": closure_clinic,
                "start_at": _local_midnight_utc(closure_day, tz),
                "end_at": _local_midnight_utc(closure_day + timedelta(days=1), tz),
                "reason": "clinic-closure",
                "note": "Building maintenance",
                "created_at": created,
            }
        )
        closed.add((closure_clinic, closure_day))
    exceptions = pd.DataFrame(exc_rows)
    exceptions.insert(0, "id", ids.take("schedule_exceptions", len(exceptions)))
    add("schedule_exceptions", exceptions)

    # ---- patients
    n_pat = plan.patients
    pat_ids = ids.take("patients", n_pat)
    p_given = rng.choice(GIVEN_NAMES, size=n_pat)
    p_family = rng.choice(FAMILY_NAMES, size=n_pat)
    ages_days = rng.integers(0, 92 * 365, size=n_pat)
    birth = pd.to_datetime(today) - pd.to_timedelta(ages_days, unit="D")
    phone_num = rng.integers(1000, 9999, size=n_pat)
    add(
        "patients",
        pd.DataFrame(
            {
                "id": pat_ids,
                "organization_id": org_id,
                "given_name": p_given,
                "family_name": p_family,
                "birth_date": birth.date,
                "birth_date_estimated": False,
                "gender": rng.choice(np.array(["F", "M"]), size=n_pat, p=[0.56, 0.44]),
                "phone": [f"(555) 01{i % 10}-{n}" for i, n in enumerate(phone_num)],
                "email": [
                    f"{g.lower()}.{f.lower()}{i}@example.org"
                    for i, (g, f) in enumerate(zip(p_given, p_family, strict=True))
                ],
                "external_id": None,
                "created_at": created,
            }
        ),
    )
    # A few patients visit often, most rarely: Zipf-like weights.
    pat_weights = 1.0 / np.arange(1, n_pat + 1) ** 0.6
    pat_weights = rng.permutation(pat_weights / pat_weights.sum())

    # ---- slots -> appointments
    appts = _generate_appointments(
        schedules,
        clinic_tz,
        closed,
        on_leave,
        first_day,
        last_day,
        anchor,
        profile,
        rng,
        type_id,
        plan.buffer_minutes,
        {int(p): SPECIALTIES[spec_idx[i]] for i, p in enumerate(prac_ids)},
    )
    n = len(appts)
    appts["patient_id"] = rng.choice(pat_ids, size=n, p=pat_weights)
    group_mask = appts["appointment_type_id"].to_numpy() == type_id["group-therapy"]
    _distinct_group_patients(appts, group_mask, pat_ids, rng)
    appts["organization_id"] = org_id
    appts["end_at"] = appts["start_at"] + pd.to_timedelta(appts["duration_minutes"], unit="m")
    _assign_outcomes(appts, anchor, rng, type_id)
    appts.insert(0, "id", ids.take("appointments", n))
    appts["created_at"] = appts["booked_at"]
    appts["updated_at"] = appts["booked_at"]
    appts["version"] = 1
    appts["external_id"] = None
    appts["series_id"] = None  # the demo history books no recurring series
    appts["created_by_user_id"] = None
    appts["date_only"] = False
    appts = appts.join(local_facts_frame(appts, clinic_tz))
    # Individual visits hold the practitioner's whole time; group seats share it.
    appts["exclusive"] = ~group_mask
    appts["notes"] = None
    add("appointments", appts)

    if profile.with_encounters:
        enc = appts[appts["status"].isin(["completed", "arrived", "in-progress"])]
        local_dates = _local_dates(enc["start_at"], enc["clinic_id"], clinic_tz)
        finished = enc["status"].to_numpy() == "completed"
        encounters = pd.DataFrame(
            {
                "id": ids.take("encounters", len(enc)),
                "organization_id": org_id,
                "appointment_id": enc["id"].to_numpy(),
                "patient_id": enc["patient_id"].to_numpy(),
                "practitioner_id": enc["practitioner_id"].to_numpy(),
                "clinic_id": enc["clinic_id"].to_numpy(),
                "encounter_date": local_dates,
                "encounter_type": enc["appointment_type_id"].map(type_encounter).to_numpy(),
                "status": np.where(finished, "finished", "in-progress"),
                "started_at": enc["start_at"].to_numpy(),
                "finalized_at": pd.Series(enc["end_at"].to_numpy()).where(finished, pd.NaT),
                "created_at": enc["start_at"].to_numpy(),
            }
        )
        add("encounters", encounters)

    if profile.recent_event_days:
        _recent_events(appts, anchor, profile.recent_event_days, org_id, ids, add, actors)


def demo_password_hash(email: str, password: str) -> str:
    """Argon2id with the production parameters but a salt derived from the e-mail, so
    the demo data stays byte-for-byte reproducible. Demo accounts only: real accounts
    get random salts (domain.auth.hash_password)."""
    from argon2 import PasswordHasher
    from argon2.low_level import Type, hash_secret

    params = PasswordHasher()
    salt = hashlib.sha256(f"demo-salt:{email}".encode()).digest()[: params.salt_len]
    return hash_secret(
        password.encode(),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=params.hash_len,
        type=Type.ID,
    ).decode()


def _users_frame(
    users: tuple[UserPlan, ...],
    org_id: int,
    practitioner: tuple[int, str],
    created: datetime,
    ids: _Ids,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ids.take("users", len(users)),
            "organization_id": org_id,
            "name": [practitioner[1] if u.is_practitioner else u.name for u in users],
            "email": [u.email for u in users],
            "role": [u.role for u in users],
            "password_hash": [demo_password_hash(u.email, u.password) for u in users],
            "practitioner_id": pd.Series(
                [practitioner[0] if u.is_practitioner else None for u in users], dtype=object
            ),
            "active": True,
            "session_version": 1,
            "created_at": created,
            "last_login_at": pd.Series([pd.NaT] * len(users), dtype="datetime64[us, UTC]"),
        }
    )


def _block(
    pid: int, clinic: int, weekday: int, start: time, end: time, valid_from: date
) -> dict[str, object]:
    return {
        "practitioner_id": pid,
        "clinic_id": clinic,
        "weekday": weekday,
        "start_time": start,
        "end_time": end,
        "slot_minutes": SLOT_MINUTES,
        "capacity": 1,
        "appointment_type_id": None,
        "valid_from": valid_from,
        "valid_to": None,
    }


def _local_dates(
    start_at: pd.Series, clinic_id: pd.Series, clinic_tz: dict[int, str]
) -> np.ndarray:
    out = np.empty(len(start_at), dtype=object)
    cids = clinic_id.to_numpy()
    for cid, tz in clinic_tz.items():
        m = cids == cid
        if m.any():
            out[m] = pd.DatetimeIndex(start_at[m]).tz_convert(tz).date
    return out


# Visits laid out over three consecutive 20-minute slots: (offset, slots) per visit.
_TRIPLE_PATTERNS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 1), (1, 1), (2, 1)),  # three short visits
    ((0, 2), (2, 1)),  # a 40-minute visit, then a short one
    ((0, 1), (1, 2)),
    ((0, 3),),  # a 60-minute procedure
)


def _generate_appointments(
    schedules: pd.DataFrame,
    clinic_tz: dict[int, str],
    closed: set[tuple[int, date]],
    on_leave: set[tuple[int, date]],
    first_day: date,
    last_day: date,
    anchor: datetime,
    profile: SeedProfile,
    rng: np.random.Generator,
    type_id: dict[str, int],
    buffer_minutes: int,
    specialty_of: dict[int, tuple[str, int, float, float, bool]],
) -> pd.DataFrame:
    days = pd.date_range(first_day, last_day, freq="D")
    weekday = days.day_of_week.to_numpy()
    today = pd.Timestamp(anchor.date())
    parts: list[pd.DataFrame] = []
    for s in schedules.itertuples(index=False):
        block_days = days[weekday == s.weekday]
        keep = [
            (s.clinic_id, d.date()) not in closed and (s.practitioner_id, d.date()) not in on_leave
            for d in block_days
        ]
        block_days = block_days[np.array(keep, dtype=bool)] if len(block_days) else block_days
        if len(block_days) == 0:
            continue
        day_offset = ((block_days - today).days).to_numpy()
        fill = np.where(
            day_offset < 0,
            profile.history_fill,
            0.05 + 0.72 * np.exp(-np.clip(day_offset, 0, None) / 25.0),
        )
        start_min = s.start_time.hour * 60 + s.start_time.minute
        block_len = (s.end_time.hour * 60 + s.end_time.minute) - start_min
        if s.capacity > 1:
            # Group session: the seats taken are drawn per session, one row per seat.
            seats = rng.binomial(s.capacity, np.clip(fill * 0.9, 0, 1))
            d_rep = np.repeat(block_days.to_numpy(), seats)
            offsets = np.zeros(len(d_rep), dtype=np.int64)
            types = np.full(len(d_rep), type_id["group-therapy"])
            session = np.repeat(np.arange(len(block_days)), seats)
            local = pd.DatetimeIndex(d_rep) + pd.to_timedelta(start_min + offsets, unit="m")
            df = pd.DataFrame(
                {
                    "local": local,
                    "appointment_type_id": types,
                    "duration_minutes": s.slot_minutes,
                    "session": session + s.id * 10_000,
                }
            )
        else:
            _, _, proc_share, tele_share, _ = specialty_of[s.practitioner_id]
            n_triples = block_len // (3 * s.slot_minutes)
            n_cells = len(block_days) * n_triples
            p_multi = 0.35 + proc_share * 0.3
            probs = np.array(
                [
                    1 - p_multi,
                    p_multi * (1 - proc_share) / 2,
                    p_multi * (1 - proc_share) / 2,
                    p_multi * proc_share,
                ]
            )
            pattern = rng.choice(len(_TRIPLE_PATTERNS), size=n_cells, p=probs / probs.sum())
            cell_day = np.repeat(np.arange(len(block_days)), n_triples)
            cell_idx = np.tile(np.arange(n_triples), len(block_days))
            rows_day: list[np.ndarray] = []
            rows_off: list[np.ndarray] = []
            rows_len: list[np.ndarray] = []
            for k, pat in enumerate(_TRIPLE_PATTERNS):
                m = pattern == k
                for off, length in pat:
                    rows_day.append(cell_day[m])
                    rows_off.append(cell_idx[m] * 3 + off)
                    rows_len.append(np.full(int(m.sum()), length))
            a_day = np.concatenate(rows_day)
            a_off = np.concatenate(rows_off)
            a_len = np.concatenate(rows_len)
            kept = rng.random(len(a_day)) < fill[a_day]
            a_day, a_off, a_len = a_day[kept], a_off[kept], a_len[kept]
            types = np.where(
                a_len == 3,
                type_id["procedure"],
                np.where(
                    a_len == 2,
                    type_id["new-patient"],
                    np.where(
                        rng.random(len(a_len)) < tele_share,
                        type_id["telehealth"],
                        type_id["follow-up"],
                    ),
                ),
            )
            local = pd.DatetimeIndex(block_days.to_numpy()[a_day]) + pd.to_timedelta(
                start_min + a_off * s.slot_minutes, unit="m"
            )
            df = pd.DataFrame(
                {
                    "local": local,
                    "appointment_type_id": types,
                    "duration_minutes": a_len * s.slot_minutes,
                    "session": -1,
                }
            )
        utc = _to_utc(df["local"], clinic_tz[s.clinic_id])
        df = df.assign(start_at=utc).drop(columns="local")
        df = df[df["start_at"].notna()]
        df["practitioner_id"] = s.practitioner_id
        df["clinic_id"] = s.clinic_id
        parts.append(df)
    appts = pd.concat(parts, ignore_index=True)
    if buffer_minutes > 0:
        appts = _enforce_buffer(appts, buffer_minutes, type_id["group-therapy"])
    return appts.sort_values(["start_at", "practitioner_id"], kind="stable").reset_index(drop=True)


def _enforce_buffer(appts: pd.DataFrame, buffer_minutes: int, group_type: int) -> pd.DataFrame:
    """Drop individual visits that start less than the buffer after the previous one.

    Dropping a visit only widens the next gap, so one pass leaves every remaining pair
    compliant. Group sessions are kept whole (they sit in their own block).
    """
    ind = appts[appts["appointment_type_id"] != group_type].sort_values(
        ["practitioner_id", "start_at"]
    )
    keep_idx: list[int] = []
    last_end: dict[int, pd.Timestamp] = {}
    buf = pd.Timedelta(minutes=buffer_minutes)
    for idx, pid, start, minutes in zip(
        ind.index, ind["practitioner_id"], ind["start_at"], ind["duration_minutes"], strict=True
    ):
        prev = last_end.get(pid)
        if prev is not None and start < prev + buf:
            continue
        keep_idx.append(idx)
        last_end[pid] = start + pd.Timedelta(minutes=int(minutes))
    group = appts[appts["appointment_type_id"] == group_type]
    return pd.concat([appts.loc[keep_idx], group])


def _distinct_group_patients(
    appts: pd.DataFrame, group_mask: np.ndarray, pat_ids: np.ndarray, rng: np.random.Generator
) -> None:
    """One patient takes at most one seat of a group session."""
    if not group_mask.any():
        return
    sessions = appts.loc[group_mask, "session"]
    new = appts.loc[group_mask, "patient_id"].to_numpy().copy()
    for _, idx in sessions.groupby(sessions).indices.items():
        new[idx] = rng.choice(pat_ids, size=len(idx), replace=False)
    appts.loc[group_mask, "patient_id"] = new


def _assign_outcomes(
    appts: pd.DataFrame, anchor: datetime, rng: np.random.Generator, type_id: dict[str, int]
) -> None:
    n = len(appts)
    start = appts["start_at"]
    end = start + pd.to_timedelta(appts["duration_minutes"], unit="m")
    anchor_ts = pd.Timestamp(anchor)

    # Booking lead time in days: same-day, within a week, within a month, further out.
    bucket = rng.choice(4, size=n, p=[0.22, 0.33, 0.33, 0.12])
    lead_days = np.select(
        [bucket == 0, bucket == 1, bucket == 2],
        [np.zeros(n, dtype=np.int64), rng.integers(1, 8, n), rng.integers(8, 31, n)],
        rng.integers(31, 91, n),
    )
    same_day_minutes = rng.integers(30, 240, n)
    booked = start - pd.to_timedelta(
        np.where(lead_days == 0, same_day_minutes, lead_days * 1440 + rng.integers(0, 480, n)),
        unit="m",
    )
    # A future visit was necessarily booked before now.
    too_late = booked > anchor_ts
    booked = booked.where(
        ~too_late, anchor_ts - pd.to_timedelta(rng.integers(5, 4320, n), unit="m")
    )
    booked = booked.where(booked < start, start - pd.Timedelta(minutes=30))
    lead_real = ((start - booked).dt.total_seconds() / 86400).to_numpy()

    # No-show propensity: rises with lead time, higher on Mondays/Fridays/Saturdays,
    # lower for telehealth and procedures (patients plan around them).
    lead_factor = np.select([lead_real < 1, lead_real < 8, lead_real < 31], [0.35, 0.95, 1.4], 1.8)
    wd = start.dt.tz_convert(None).dt.day_of_week.to_numpy()
    wd_factor = np.array([1.25, 0.95, 0.85, 0.9, 1.2, 1.35, 1.0])[wd]
    t = appts["appointment_type_id"].to_numpy()
    type_factor = np.select(
        [
            t == type_id["telehealth"],
            t == type_id["procedure"],
            t == type_id["new-patient"],
            t == type_id["group-therapy"],
        ],
        [0.6, 0.7, 1.3, 1.1],
        1.0,
    )
    p_noshow = np.clip(0.11 * lead_factor * wd_factor * type_factor, 0.01, 0.6)

    u = rng.random(n)
    cancelled = u < 0.07 + 0.03 * (lead_real > 14)
    noshow = ~cancelled & (rng.random(n) < p_noshow)
    past = (end <= anchor_ts).to_numpy()
    running = ((start <= anchor_ts) & (end > anchor_ts)).to_numpy()
    future = (start > anchor_ts).to_numpy()
    near = (start <= anchor_ts + pd.Timedelta(days=3)).to_numpy()

    status = np.empty(n, dtype=object)
    status[past] = np.where(
        cancelled[past], "cancelled", np.where(noshow[past], "no-show", "completed")
    )
    r = rng.random(n)
    status[running] = np.where(r[running] < 0.65, "in-progress", "arrived")
    fut_status = np.where(
        cancelled,
        "cancelled",
        np.where(
            r < 0.08,
            "pending",
            np.where((r < 0.55) & near, "confirmed", np.where(r < 0.3, "confirmed", "booked")),
        ),
    )
    status[future] = fut_status[future]
    appts["status"] = status

    cat = rng.choice(
        np.array(["patient-initiated", "practice-initiated", "emergency", "other"]),
        size=n,
        p=[0.58, 0.2, 0.1, 0.12],
    )
    reasons = {
        "patient-initiated": "Patient asked to cancel",
        "practice-initiated": "Practitioner unavailable",
        "emergency": "Emergency",
        "other": "Other",
    }
    is_c = status == "cancelled"
    appts["cancellation_category"] = np.where(is_c, cat, None)
    appts["cancellation_reason"] = np.where(is_c, [reasons[c] for c in cat], None)
    appts["booked_at"] = booked
    appts["reminder_sent"] = (lead_real >= 2) & (rng.random(n) < 0.8) & (past | running | near)


def _recent_events(
    appts: pd.DataFrame,
    anchor: datetime,
    days: int,
    org_id: int,
    ids: _Ids,
    add: Callable[[str, pd.DataFrame], None],
    actors: dict[str, tuple[int | None, str]],
) -> None:
    since = pd.Timestamp(anchor) - pd.Timedelta(days=days)
    anchor_ts = pd.Timestamp(anchor)
    created = appts[(appts["booked_at"] >= since) & (appts["booked_at"] <= anchor_ts)]
    ev_rows = pd.DataFrame(
        {
            "organization_id": org_id,
            "event_type": "APPOINTMENT_CREATED",
            "appointment_id": created["id"].to_numpy(),
            "payload": [
                json.dumps(
                    {
                        "patient_id": int(p),
                        "practitioner_id": int(pr),
                        "clinic_id": int(c),
                        "start": s.isoformat(),
                        "duration_minutes": int(d),
                        "status": "booked",
                    }
                )
                for p, pr, c, s, d in zip(
                    created["patient_id"],
                    created["practitioner_id"],
                    created["clinic_id"],
                    created["start_at"],
                    created["duration_minutes"],
                    strict=True,
                )
            ],
            "priority": "normal",
            "actor_user_id": actors["front-desk"][0],
            "actor_name": actors["front-desk"][1],
            "created_at": created["booked_at"].to_numpy(),
        }
    )
    cancelled = appts[appts["status"] == "cancelled"]
    c_when = cancelled["booked_at"] + (cancelled["start_at"] - cancelled["booked_at"]) * 0.6
    sel = (c_when >= since) & (c_when <= anchor_ts)
    cancelled, c_when = cancelled[sel], c_when[sel]
    ca_rows = pd.DataFrame(
        {
            "organization_id": org_id,
            "event_type": "APPOINTMENT_STATUS_CHANGED",
            "appointment_id": cancelled["id"].to_numpy(),
            "payload": [
                json.dumps(
                    {
                        "old_status": "booked",
                        "new_status": "cancelled",
                        "reason": r,
                        "cancellation_category": c,
                    }
                )
                for r, c in zip(
                    cancelled["cancellation_reason"],
                    cancelled["cancellation_category"],
                    strict=True,
                )
            ],
            "priority": "high",
            "actor_user_id": actors["coordinator"][0],
            "actor_name": actors["coordinator"][1],
            "created_at": c_when.to_numpy(),
        }
    )
    events = (
        pd.concat([ev_rows, ca_rows], ignore_index=True)
        .sort_values("created_at", kind="stable")
        .reset_index(drop=True)
    )
    events.insert(0, "id", ids.take("activity_events", len(events)))
    add("activity_events", events)

    cancel_events = events[events["event_type"] == "APPOINTMENT_STATUS_CHANGED"]
    pr_of = dict(zip(appts["id"], appts["practitioner_id"], strict=True))
    start_of = dict(zip(appts["id"], appts["start_at"], strict=True))
    notes = pd.DataFrame(
        {
            "organization_id": org_id,
            "event_id": cancel_events["id"].to_numpy(),
            "recipient_kind": "practitioner",
            "recipient_id": [pr_of[a] for a in cancel_events["appointment_id"]],
            "recipient_role": None,
            "priority": "high",
            "channel": "in-app",
            "title": "Appointment cancelled",
            "body": [
                f"The appointment on {start_of[a]:%Y-%m-%d %H:%M} UTC was cancelled."
                for a in cancel_events["appointment_id"]
            ],
            "read_at": None,
            "created_at": cancel_events["created_at"].to_numpy(),
        }
    )
    notes.insert(0, "id", ids.take("notifications", len(notes)))
    add("notifications", notes)


# --------------------------------------------------------------------------- writing

TABLE_ORDER = (
    "organizations",
    "clinics",
    "appointment_types",
    "practitioners",
    "users",
    "clinic_assignments",
    "schedules",
    "schedule_exceptions",
    "patients",
    "appointments",
    "encounters",
    "activity_events",
    "notifications",
)


def _next_ids(db: Database) -> dict[str, int]:
    out: dict[str, int] = {}
    with db.read() as s:
        for name in TABLE_ORDER:
            table = Base.metadata.tables[name]
            out[name] = (
                int(s.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1
            )
    return out


def is_empty(db: Database) -> bool:
    with db.read() as s:
        return (
            s.execute(
                select(func.count()).select_from(Base.metadata.tables["organizations"])
            ).scalar_one()
            == 0
        )


@dataclass
class SeedReport:
    rows: dict[str, int]
    seconds: float
    # (organization, role, e-mail, password) of the demo sign-ins that were created.
    logins: list[tuple[str, str, str, str]] = field(default_factory=list)


def seed(
    db: Database,
    profile: SeedProfile = DEMO_PROFILE,
    anchor: datetime | None = None,
    seed_value: int = 20240601,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Generate ``profile`` relative to ``anchor`` (default now) and bulk-write it."""
    import time as _time

    t0 = _time.perf_counter()
    anchor = anchor or datetime.now(UTC)
    frames = generate(profile, anchor, seed_value, _next_ids(db), progress)
    write_frames(db, frames, progress)
    logins = [(o.name, u.role, u.email, u.password) for o in profile.organizations for u in o.users]
    return SeedReport({t: len(f) for t, f in frames.items()}, _time.perf_counter() - t0, logins)


def write_frames(
    db: Database, frames: dict[str, pd.DataFrame], progress: Callable[[str], None] | None = None
) -> None:
    if db.dialect == "postgresql":
        _write_postgres(db, frames, progress)
    else:
        _write_generic(db, frames, progress)


def _columns(table_name: str, df: pd.DataFrame) -> list[str]:
    """The columns to write: all of them, except that one with a server default may be
    left to the database (so a column added later does not break older generators)."""
    table = Base.metadata.tables[table_name]
    missing = [
        c.name for c in table.columns if c.name not in df.columns and c.server_default is None
    ]
    if missing:
        raise ValueError(f"{table_name}: generator did not produce {missing}")
    return [c.name for c in table.columns if c.name in df.columns]


def _write_generic(
    db: Database, frames: dict[str, pd.DataFrame], progress: Callable[[str], None] | None
) -> None:
    """SQLite: executemany of pre-rendered values, in SQLAlchemy's own SQLite storage
    formats, so the rows read back exactly as ORM-written ones (and compare as text)."""
    with db.transaction(write_lock=True) as session:
        conn = session.connection()
        for name in TABLE_ORDER:
            df = frames.get(name)
            if df is None or df.empty:
                continue
            if progress:
                progress(f"writing {len(df):,} {name}")
            cols = _columns(name, df)
            rows = _sqlite_rows(df[cols], name)
            sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            conn.exec_driver_sql(sql, rows)


def _sqlite_rows(df: pd.DataFrame, table_name: str) -> list[tuple[object, ...]]:
    table = Base.metadata.tables[table_name]
    columns: list[list[object]] = []
    for col in df.columns:
        s = df[col]
        kind = table.c[col].type.python_type if col not in ("settings", "payload") else str
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            naive = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
            rendered = np.char.replace(np.datetime_as_string(naive, unit="us"), "T", " ")
            values = np.where(s.isna().to_numpy(), None, rendered).tolist()
        elif kind is time:
            values = [None if _isnull(v) else f"{v:%H:%M:%S}.000000" for v in s]
        elif kind is date:
            values = [None if _isnull(v) else v.isoformat() for v in s]
        elif kind is bool:
            values = [None if _isnull(v) else int(bool(v)) for v in s]
        elif kind is int:
            values = [None if _isnull(v) else int(v) for v in s]
        else:
            values = [None if _isnull(v) else v for v in s.to_numpy(dtype=object)]
        columns.append(values)
    return list(zip(*columns, strict=True))


def _isnull(v: object) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    return isinstance(v, float) and math.isnan(v)


def _write_postgres(
    db: Database, frames: dict[str, pd.DataFrame], progress: Callable[[str], None] | None
) -> None:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            # Generated rows are consistent by construction; skipping per-row FK triggers
            # makes COPY several times faster. Needs superuser, so it is best effort.
            cur.execute("SET session_replication_role = replica")
        except Exception:
            raw.rollback()
            cur = raw.cursor()
        for name in TABLE_ORDER:
            df = frames.get(name)
            if df is None or df.empty:
                continue
            cols = _columns(name, df)
            chunk = 250_000
            for i in range(0, len(df), chunk):
                if progress:
                    progress(f"copying {name} {i:,}-{min(i + chunk, len(df)):,} of {len(df):,}")
                buf = io.StringIO()
                _csv_frame(df.iloc[i : i + chunk][cols], name).to_csv(
                    buf, index=False, header=False
                )
                with cur.copy(
                    f"COPY {name} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)"
                ) as copy:
                    copy.write(buf.getvalue())
        for name in TABLE_ORDER:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"
            )
        cur.execute("SET session_replication_role = DEFAULT")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def _csv_frame(df: pd.DataFrame, table_name: str) -> pd.DataFrame:
    table = Base.metadata.tables[table_name]
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            values = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
            text_values = np.char.add(np.datetime_as_string(values, unit="us"), "+00")
            out[col] = np.where(s.isna().to_numpy(), None, text_values)
        elif s.dtype.kind in "fO" and table.c[col].type.python_type is int:
            # NaN made the column float; COPY wants "5", not "5.0".
            out[col] = pd.to_numeric(s).astype("Int64")
    return out


def table_counts(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {
            name: int(s.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in TABLE_ORDER
        }
