"""Search and read for the FHIR API, always inside one organization (the API token's).

Every query filters by that organization, and an id of another organization answers 404
exactly like an id that does not exist.

- **Appointment**: one row per appointment. Search by ``patient``, ``practitioner``,
  ``actor`` (Patient, Practitioner or Location), ``location``, ``date`` (the start),
  ``status`` (FHIR codes, see ``resources``) and ``_id``; ordered by start, paged by a
  keyset cursor in the next link (deep pages cost what the first one does).
- **Schedule**: one practitioner at one clinic (``<practitioner>-<clinic>``), with the
  weekly hours in force. Search by ``actor``, ``active`` and ``_id``.
- **Slot**: the schedule grid, as availability computes it (``domain.booking_rules``), from
  now on: ``free`` slots are exactly what the booking screen offers, ``busy`` ones are full
  (or blocked by the buffer), ``busy-unavailable`` ones fall in leave, a holiday or a
  closure, or inside the minimum notice or beyond the booking horizon. Search by
  ``schedule``, ``schedule.actor``, ``practitioner``, ``start`` and ``status``; the start
  range defaults to the next 7 days and spans at most 31.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, tuple_

from data.availability_queries import fetch_calendar
from data.models import (
    Appointment,
    AppointmentType,
    Clinic,
    Patient,
    Practitioner,
    Schedule,
)
from domain.availability import AvailabilityError, get_directory
from domain.booking_rules import (
    BUFFER,
    CONFLICT,
    EXCEPTION,
    MAX_APPOINTMENT_MINUTES,
    BookingWindow,
    PractitionerDay,
)
from domain.context import AppContext
from domain.fhir.params import (
    Query,
    invalid,
    parse_bool,
    parse_date,
    parse_id,
    parse_reference,
    parse_tokens,
    window,
)
from domain.fhir.resources import (
    FHIR_TO_STATUSES,
    SLOT_STATUSES,
    AppointmentRow,
    FhirError,
    ScheduleRow,
    SearchParam,
    SlotRow,
    appointment_resource,
    bundle,
    capability_statement,
    schedule_resource,
    slot_resource,
)
from domain.slots import ScheduleException, local_date, new_booking, utc_window

RESOURCE_TYPES = ("Appointment", "Schedule", "Slot")
APPOINTMENT_STATUS_SYSTEM = "http://hl7.org/fhir/appointmentstatus"
SLOT_STATUS_SYSTEM = "http://hl7.org/fhir/slotstatus"
DEFAULT_SLOT_DAYS = 7
MAX_SLOT_DAYS = 31
# Practitioner-days one Slot search may compute (a whole large organization for a week is
# about 2,100); beyond it the client is asked to narrow the search.
MAX_SLOT_WORK = 3000
PUBLISHED = datetime(2026, 11, 1, tzinfo=UTC)

SEARCH_PARAMS: dict[str, tuple[SearchParam, ...]] = {
    "Appointment": (
        SearchParam("_id", "token", "Appointment ids, comma-separated"),
        SearchParam("patient", "reference", "Patient/<id>"),
        SearchParam("practitioner", "reference", "Practitioner/<id>"),
        SearchParam("actor", "reference", "Patient/<id>, Practitioner/<id> or Location/<id>"),
        SearchParam("location", "reference", "Location/<id> (a clinic)"),
        SearchParam("date", "date", "The start: eq, lt, le, gt, ge; dates in the org's zone"),
        SearchParam("status", "token", "FHIR appointment status codes, comma-separated"),
        SearchParam("_total", "token", "accurate: count every match (else only when small)"),
        SearchParam("_cursor", "string", "Paging: follow the Bundle's next link"),
    ),
    "Schedule": (
        SearchParam("_id", "token", "<practitioner>-<clinic>, comma-separated"),
        SearchParam("actor", "reference", "Practitioner/<id> or Location/<id>"),
        SearchParam("active", "token", "true or false"),
        SearchParam("_offset", "number", "Paging: follow the Bundle's next link"),
    ),
    "Slot": (
        SearchParam("schedule", "reference", "Schedule/<practitioner>-<clinic>"),
        SearchParam("schedule.actor", "reference", "Practitioner/<id> or Location/<id>"),
        SearchParam("practitioner", "reference", "Practitioner/<id> (shorthand)"),
        SearchParam("start", "date", "From now; default the next 7 days, at most 31"),
        SearchParam("status", "token", "free, busy, busy-unavailable"),
        SearchParam("_offset", "number", "Paging: follow the Bundle's next link"),
    ),
}


def metadata(base: str) -> dict[str, Any]:
    return capability_statement(base, PUBLISHED, SEARCH_PARAMS)


def not_found(kind: str, ident: str) -> FhirError:
    return FhirError(404, "not-found", f"{kind}/{ident} is not known.")


def _link(base: str, kind: str, pairs: Sequence[tuple[str, str]]) -> str:
    return f"{base}/{kind}" + (f"?{urlencode(pairs)}" if pairs else "")


def _org_timezone(ctx: AppContext, organization_id: int) -> str:
    """The organization's zone (dates without one are read in it), from the cached
    directory."""
    try:
        return get_directory(ctx, organization_id).timezone
    except AvailabilityError as exc:
        raise FhirError(404, "not-found", "This organization no longer exists.") from exc


def search(
    ctx: AppContext,
    organization_id: int,
    kind: str,
    pairs: Iterable[tuple[str, str]],
    base: str,
) -> dict[str, Any]:
    """A searchset Bundle of ``kind`` matching the query ``pairs``."""
    if kind not in RESOURCE_TYPES:
        raise FhirError(404, "not-supported", f"This server has no {kind} resources.")
    query = Query.parse(pairs, (p.name for p in SEARCH_PARAMS[kind]))
    if kind == "Appointment":
        return _search_appointments(ctx, organization_id, query, base)
    if kind == "Schedule":
        return _search_schedules(ctx, organization_id, query, base)
    return _search_slots(ctx, organization_id, query, base)


def read(ctx: AppContext, organization_id: int, kind: str, ident: str) -> dict[str, Any]:
    """One resource by id."""
    if kind == "Appointment":
        if not ident.isdigit() or len(ident) > 18:
            raise not_found(kind, ident)
        rows = _appointments(
            ctx, [Appointment.organization_id == organization_id, Appointment.id == int(ident)], 1
        )
        if not rows:
            raise not_found(kind, ident)
        return appointment_resource(rows[0])
    if kind == "Schedule":
        found = [r for r in _schedule_rows(ctx, organization_id) if r.id == ident]
        if not found:
            raise not_found(kind, ident)
        return schedule_resource(found[0], _horizon(ctx, organization_id, found[0]))
    if kind == "Slot":
        return slot_resource(_read_slot(ctx, organization_id, ident))
    raise FhirError(404, "not-supported", f"This server has no {kind} resources.")


def _offset(query: Query) -> int:
    raw = query.one("_offset")
    if raw is None:
        return 0
    if not raw.isdigit() or len(raw) > 9:
        raise invalid("_offset must be a whole number (follow the Bundle's next link).")
    return int(raw)


def _page(
    base: str,
    kind: str,
    query: Query,
    resources: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """Offset paging of a fully computed result (schedules, slots: small)."""
    count, start = query.count(), _offset(query)
    page = resources[start : start + count]
    more = start + count < len(resources) and count > 0
    next_url = (
        _link(base, kind, [*query.pairs(drop={"_offset"}), ("_offset", str(start + count))])
        if more
        else None
    )
    return bundle(
        base,
        page,
        self_url=_link(base, kind, query.pairs()),
        next_url=next_url,
        total=len(resources),
        timestamp=now,
    )


# --------------------------------------------------------------------------- Appointment


def _appointment_select() -> Any:
    return (
        select(
            Appointment.id,
            Appointment.version,
            Appointment.updated_at,
            Appointment.booked_at,
            Appointment.status,
            Appointment.start_at,
            Appointment.end_at,
            Appointment.duration_minutes,
            Appointment.date_only,
            Appointment.cancellation_category,
            Appointment.cancellation_reason,
            Appointment.external_id,
            Appointment.patient_id,
            Patient.given_name,
            Patient.family_name,
            Appointment.practitioner_id,
            Practitioner.name.label("practitioner_name"),
            Appointment.clinic_id,
            Clinic.name.label("clinic_name"),
            Clinic.timezone,
            AppointmentType.code,
            AppointmentType.name.label("type_name"),
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
    )


def _appointments(ctx: AppContext, where: list[Any], limit: int) -> list[AppointmentRow]:
    stmt = (
        _appointment_select()
        .where(*where)
        .order_by(Appointment.start_at, Appointment.id)
        .limit(limit)
    )
    # One statement, no snapshot to share: the autocommit path spares BEGIN and ROLLBACK.
    with ctx.db.quick_read() as conn:
        return [
            AppointmentRow(
                id=r.id,
                version=r.version,
                updated_at=r.updated_at,
                booked_at=r.booked_at,
                status=r.status,
                start_at=r.start_at,
                end_at=r.end_at,
                duration_minutes=r.duration_minutes,
                date_only=r.date_only,
                cancellation_category=r.cancellation_category,
                cancellation_reason=r.cancellation_reason,
                external_id=r.external_id,
                patient_id=r.patient_id,
                patient_name=f"{r.given_name} {r.family_name}".strip(),
                practitioner_id=r.practitioner_id,
                practitioner_name=r.practitioner_name,
                clinic_id=r.clinic_id,
                clinic_name=r.clinic_name,
                clinic_timezone=r.timezone,
                type_code=r.code,
                type_name=r.type_name,
            )
            for r in conn.execute(stmt)
        ]


_ACTOR_COLUMNS = {
    "Patient": Appointment.patient_id,
    "Practitioner": Appointment.practitioner_id,
    "Location": Appointment.clinic_id,
}


def _reference_filter(query: Query, param: str, types: Sequence[str]) -> list[Any]:
    """One condition per repetition (AND), each an OR of its comma-separated values."""
    conditions = []
    for value in query.get(param):
        refs = [parse_reference(v, types, param) for v in value.split(",")]
        conditions.append(or_(*(_ACTOR_COLUMNS[kind] == ident for kind, ident in refs)))
    return conditions


def _encode_cursor(row: AppointmentRow) -> str:
    at = row.start_at.astimezone(UTC)
    micros = int(at.replace(microsecond=0).timestamp()) * 1_000_000 + at.microsecond
    return f"{micros}-{row.id}"


def _decode_cursor(value: str) -> tuple[datetime, int]:
    micros, _, ident = value.partition("-")
    if not micros.isdigit() or not ident.isdigit() or len(micros) > 20 or len(ident) > 18:
        raise invalid("_cursor is not valid: follow the Bundle's next link as it is.")
    at = datetime.fromtimestamp(int(micros) // 1_000_000, UTC)
    return at + timedelta(microseconds=int(micros) % 1_000_000), int(ident)


def _search_appointments(
    ctx: AppContext, organization_id: int, query: Query, base: str
) -> dict[str, Any]:
    now = ctx.clock()
    tz = _org_timezone(ctx, organization_id)
    where: list[Any] = [Appointment.organization_id == organization_id]
    for value in query.get("_id"):
        where.append(Appointment.id.in_([parse_id(v) for v in value.split(",")]))
    where += _reference_filter(query, "patient", ("Patient",))
    where += _reference_filter(query, "practitioner", ("Practitioner",))
    where += _reference_filter(query, "location", ("Location",))
    where += _reference_filter(query, "actor", ("Patient", "Practitioner", "Location"))
    for value in query.get("date"):
        for op, at in parse_date(value, tz):
            where.append(Appointment.start_at >= at if op == "ge" else Appointment.start_at < at)
    for value in query.get("status"):
        statuses: list[str] = []
        for code in parse_tokens(value, APPOINTMENT_STATUS_SYSTEM):
            if code not in FHIR_TO_STATUSES:
                raise invalid(f"{code!r} is not an R4 appointment status.")
            statuses += FHIR_TO_STATUSES[code]
        where.append(Appointment.status.in_(statuses))
    total_mode = query.one("_total") or "none"
    if total_mode not in ("none", "estimate", "accurate"):
        raise invalid("_total is none, estimate or accurate.")
    count = query.count()
    cursor = query.one("_cursor")
    paged = list(where)
    if cursor is not None:
        at, ident = _decode_cursor(cursor)
        # A row comparison: the (organization, start) index seeks straight to the page.
        paged.append(tuple_(Appointment.start_at, Appointment.id) > tuple_(at, ident))
    rows = _appointments(ctx, paged, count + 1) if count else []
    more = len(rows) > count
    rows = rows[:count]
    total: int | None = None
    if total_mode == "accurate" or count == 0:
        with ctx.db.quick_read() as conn:
            count_stmt = select(func.count()).select_from(Appointment).where(*where)
            total = int(conn.execute(count_stmt).scalar() or 0)
    elif cursor is None and not more:
        total = len(rows)
    next_url = None
    if more:
        pairs = [*query.pairs(drop={"_cursor"}), ("_cursor", _encode_cursor(rows[-1]))]
        next_url = _link(base, "Appointment", pairs)
    return bundle(
        base,
        [appointment_resource(r) for r in rows],
        self_url=_link(base, "Appointment", query.pairs()),
        next_url=next_url,
        total=total,
        timestamp=now,
    )


# --------------------------------------------------------------------------- Schedule


def _schedule_rows(ctx: AppContext, organization_id: int) -> list[ScheduleRow]:
    """Every (practitioner, clinic) pair with schedule blocks, by practitioner and clinic
    id. Active: the practitioner and clinic are active and hours remain from today."""
    now = ctx.clock()
    with ctx.db.read() as s:
        pairs = s.execute(
            select(
                Schedule.practitioner_id,
                Practitioner.name,
                Practitioner.specialty,
                Schedule.clinic_id,
                Clinic.name,
                Clinic.timezone,
            )
            .join(Practitioner, Practitioner.id == Schedule.practitioner_id)
            .join(Clinic, Clinic.id == Schedule.clinic_id)
            .where(
                Practitioner.organization_id == organization_id,
                Clinic.organization_id == organization_id,
            )
            .distinct()
            .order_by(Schedule.practitioner_id, Schedule.clinic_id)
        ).all()
    directory = get_directory(ctx, organization_id)
    out = []
    for pid, name, specialty, cid, clinic_name, tz in pairs:
        today = now.astimezone(ZoneInfo(tz)).date()
        blocks = [
            b
            for b in directory.blocks.get(pid, [])
            if b.clinic_id == cid and (b.valid_to is None or b.valid_to >= today)
        ]
        hours = tuple(sorted({(b.weekday, b.start_time, b.end_time) for b in blocks}))
        out.append(ScheduleRow(pid, name, specialty, cid, clinic_name, tz, bool(blocks), hours))
    return out


def _horizon(
    ctx: AppContext, organization_id: int, row: ScheduleRow
) -> tuple[datetime, datetime] | None:
    if not row.active:
        return None
    now = ctx.clock()
    rules = get_directory(ctx, organization_id).rules
    end_ts = BookingWindow(now, rules).horizon_end_ts(row.clinic_timezone)
    return now, datetime.fromtimestamp(end_ts, UTC)


def _search_schedules(
    ctx: AppContext, organization_id: int, query: Query, base: str
) -> dict[str, Any]:
    rows = _schedule_rows(ctx, organization_id)
    for value in query.get("_id"):
        wanted = set(value.split(","))
        rows = [r for r in rows if r.id in wanted]
    for value in query.get("actor"):
        refs = {parse_reference(v, ("Practitioner", "Location"), "actor") for v in value.split(",")}
        rows = [
            r
            for r in rows
            if ("Practitioner", r.practitioner_id) in refs or ("Location", r.clinic_id) in refs
        ]
    for value in query.get("active"):
        wanted_active = parse_bool(value, "active")
        rows = [r for r in rows if r.active == wanted_active]
    resources = [schedule_resource(r, _horizon(ctx, organization_id, r)) for r in rows]
    return _page(base, "Schedule", query, resources, ctx.clock())


# --------------------------------------------------------------------------- Slot


def _parse_schedule_ref(value: str) -> tuple[int, int]:
    kind, _, ident = value.rpartition("/")
    if kind and kind.rsplit("/", 1)[-1] != "Schedule":
        raise invalid(f"schedule refers to Schedule, not {kind}.")
    pid, dash, cid = ident.partition("-")
    if not dash or not pid.isdigit() or not cid.isdigit() or len(ident) > 40:
        raise invalid(f"{value!r} is not a Schedule id (<practitioner>-<clinic>).")
    return int(pid), int(cid)


def compute_slots(
    ctx: AppContext,
    organization_id: int,
    pairs: set[tuple[int, int]],
    lo: datetime,
    hi: datetime,
) -> list[SlotRow]:
    """The grid slots of the (practitioner, clinic) ``pairs`` starting in [lo, hi), each
    free, busy or busy-unavailable as availability sees it now; by start."""
    now = ctx.clock()
    directory = get_directory(ctx, organization_id)
    zones, rules = directory.zones, directory.rules
    pids = sorted({p for p, _ in pairs if p in directory.blocks})
    if not pids or hi <= lo:
        return []
    first = (lo - timedelta(days=1)).date()
    last = (hi + timedelta(days=1)).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if len(pids) * len(days) > MAX_SLOT_WORK:
        raise FhirError(
            400,
            "too-costly",
            "This Slot search covers too many practitioners and days; narrow it by "
            "schedule, practitioner or a shorter start range.",
        )
    window_now = BookingWindow(now, rules)
    lo_ts, hi_ts = utc_window(zones.values(), first, last)
    buffer_s = rules.buffer_minutes * 60
    with ctx.db.quick_read() as conn:
        rows = fetch_calendar(
            conn,
            organization_id,
            pids,
            lo_ts - buffer_s,
            hi_ts + buffer_s,
            MAX_APPOINTMENT_MINUTES * 60,
        )
        type_names = {
            tid: (code, name)
            for tid, code, name in conn.execute(
                select(AppointmentType.id, AppointmentType.code, AppointmentType.name).where(
                    AppointmentType.organization_id == organization_id
                )
            )
        }
    exceptions = [ScheduleException(*r) for r in rows.exceptions]
    bookings = defaultdict(list)
    for aid, pid, cid, s, e in rows.appointments:
        bookings[pid].append(new_booking((aid, pid, cid, s, e, "booked")))
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    out: list[SlotRow] = []
    for pid in pids:
        for day in days:
            plan = PractitionerDay(
                pid, day, directory.blocks[pid], zones, exceptions, bookings[pid], rules
            )
            for cid in plan.clinics:
                if (pid, cid) not in pairs:
                    continue
                tz = zones[cid]
                out += _day_slots(plan, pid, cid, tz, window_now, type_names, lo_s, hi_s)
    out.sort(key=lambda r: (r.start_at, r.practitioner_id, r.clinic_id, r.end_at))
    return out


def _day_slots(
    plan: PractitionerDay,
    pid: int,
    cid: int,
    tz: str,
    window_now: BookingWindow,
    type_names: dict[int, tuple[str, str]],
    lo_s: int,
    hi_s: int,
) -> list[SlotRow]:
    def row(start: int, end: int, status: str, capacity: int, seats: int, tid: Any) -> SlotRow:
        return SlotRow(
            pid,
            cid,
            datetime.fromtimestamp(start, UTC),
            datetime.fromtimestamp(end, UTC),
            status,
            capacity,
            seats,
            tz,
            type_names.get(tid) if tid is not None else None,
        )

    out = []
    free: set[tuple[int, int]] = set()
    for start, end, capacity, seats, tid, _sid in plan.open_slots(cid):
        if window_now.allows(start, tz) and lo_s <= start < hi_s:
            free.add((start, end))
            out.append(row(start, end, "free", capacity, seats, tid))
    for cell, taken, state in plan.grid(cid):
        start, end = cell.start_ts, cell.end_ts
        if (start, end) in free or not lo_s <= start < hi_s:
            continue
        if state == EXCEPTION:
            status = "busy-unavailable"
        elif state in (CONFLICT, BUFFER) or taken >= cell.capacity:
            status = "busy"
        elif not window_now.allows(start, tz):
            status = "busy-unavailable"
        else:  # not offered for another reason (e.g. overlapping blocks)
            status = "busy"
        out.append(
            row(start, end, status, cell.capacity, cell.capacity - taken, cell.appointment_type_id)
        )
    return out


def _slot_pairs(ctx: AppContext, organization_id: int, query: Query) -> set[tuple[int, int]]:
    directory = get_directory(ctx, organization_id)
    pairs = {(pid, b.clinic_id) for pid, blocks in directory.blocks.items() for b in blocks}
    for value in query.get("schedule"):
        pairs &= {_parse_schedule_ref(v) for v in value.split(",")}
    for param in ("schedule.actor", "practitioner"):
        types = ("Practitioner", "Location") if param == "schedule.actor" else ("Practitioner",)
        for value in query.get(param):
            refs = {parse_reference(v, types, param) for v in value.split(",")}
            pairs = {
                (p, c) for p, c in pairs if ("Practitioner", p) in refs or ("Location", c) in refs
            }
    return pairs


def _search_slots(ctx: AppContext, organization_id: int, query: Query, base: str) -> dict[str, Any]:
    now = ctx.clock()
    tz = _org_timezone(ctx, organization_id)
    bounds = [b for value in query.get("start") for b in parse_date(value, tz, "start")]
    lo, hi = window(bounds)
    lo = now if lo is None or lo < now else lo
    if hi is None:
        hi = lo + timedelta(days=DEFAULT_SLOT_DAYS)
    if hi - lo > timedelta(days=MAX_SLOT_DAYS):
        raise FhirError(
            400,
            "too-costly",
            f"A Slot search spans at most {MAX_SLOT_DAYS} days of start; narrow the range.",
        )
    statuses: set[str] = set()
    for value in query.get("status"):
        codes = set(parse_tokens(value, SLOT_STATUS_SYSTEM))
        unknown = codes - set(SLOT_STATUSES)
        if unknown:
            raise invalid(f"{sorted(unknown)[0]!r} is not an R4 slot status.")
        statuses = codes if not statuses else statuses & codes
        if not statuses:
            statuses = {"-"}  # ANDed codes that exclude each other match nothing
    slots = compute_slots(ctx, organization_id, _slot_pairs(ctx, organization_id, query), lo, hi)
    if statuses:
        slots = [s for s in slots if s.status in statuses]
    return _page(base, "Slot", query, [slot_resource(s) for s in slots], now)


def _read_slot(ctx: AppContext, organization_id: int, ident: str) -> SlotRow:
    parts = ident.split("-")
    if len(parts) != 4 or not all(p.isdigit() for p in parts) or len(parts[2]) != 12:
        raise not_found("Slot", ident)
    pid, cid, minutes = int(parts[0]), int(parts[1]), int(parts[3])
    try:
        start = datetime.strptime(parts[2], "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise not_found("Slot", ident) from None
    directory = get_directory(ctx, organization_id)
    tz = directory.zones.get(cid)
    if tz is None or pid not in directory.blocks:
        raise not_found("Slot", ident)
    day = local_date(tz, int(start.timestamp()))
    lo = datetime.combine(day, datetime.min.time(), ZoneInfo(tz))
    for slot in compute_slots(ctx, organization_id, {(pid, cid)}, lo, lo + timedelta(days=1)):
        if slot.start_at == start and slot.end_at == start + timedelta(minutes=minutes):
            return slot
    raise not_found("Slot", ident)
