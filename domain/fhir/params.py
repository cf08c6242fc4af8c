"""FHIR search parameters, parsed and checked. Pure.

Supported forms (FHIR R4 search, the subset this API needs):

- repeated parameters are ANDed (``date=ge2026-03-01&date=lt2026-04-01``), comma-separated
  values ORed (``status=booked,arrived``);
- dates: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` (whole periods in the organization's time
  zone) or a dateTime with an offset, prefixed with eq (default), lt, le, gt or ge;
- tokens: ``code`` or ``system|code``;
- references: ``Practitioner/12`` or ``12`` where the type is implied;
- ``_count`` (default 50, at most 200) and the paging parameter of the next link.

Anything else is refused with a 400 OperationOutcome naming the parameter, rather than
silently ignored (a typo would otherwise widen the search to everything).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from domain.fhir.resources import FhirError

DEFAULT_COUNT = 50
MAX_COUNT = 200
# Parameters every search accepts; _format only says JSON, which is all we speak.
COMMON = frozenset({"_count", "_format"})
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})

_DATE = re.compile(
    r"^(?P<prefix>eq|ne|lt|le|gt|ge|sa|eb|ap)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_ID = re.compile(r"^[0-9]{1,18}$")


def invalid(message: str) -> FhirError:
    return FhirError(400, "invalid", message)


@dataclass(frozen=True)
class Query:
    """A search's parameters by name, each with its repeated values."""

    values: dict[str, list[str]]

    @classmethod
    def parse(cls, pairs: Iterable[tuple[str, str]], allowed: Iterable[str]) -> Query:
        known = set(allowed) | COMMON
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            base = name.split(":", 1)[0]
            if base != name:
                raise invalid(f"Search modifiers are not supported ({name!r}).")
            if name not in known:
                raise invalid(
                    f"Unknown search parameter {name!r}; this search takes "
                    + ", ".join(sorted(known))
                    + "."
                )
            values.setdefault(name, []).append(value)
        for fmt in values.get("_format", []):
            if fmt not in JSON_FORMATS:
                raise FhirError(406, "not-supported", "This server answers in JSON only.")
        return cls(values)

    def get(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def one(self, name: str) -> str | None:
        found = self.get(name)
        if len(found) > 1:
            raise invalid(f"{name} may be given once.")
        return found[0] if found else None

    def count(self) -> int:
        raw = self.one("_count")
        if raw is None:
            return DEFAULT_COUNT
        if not raw.isdigit():
            raise invalid(f"_count must be a whole number from 0 to {MAX_COUNT}.")
        return min(int(raw), MAX_COUNT)

    def pairs(self, *, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
        """The parameters in a stable order, for self and next links."""
        skip = set(drop)
        return [(k, v) for k in sorted(self.values) if k not in skip for v in self.values[k]]


def parse_id(value: str, what: str = "id") -> int:
    if not _ID.match(value):
        raise invalid(f"{value!r} is not a valid {what}.")
    return int(value)


def parse_reference(value: str, types: Sequence[str], param: str) -> tuple[str, int]:
    """'Practitioner/12' (or '12' when ``types`` has one type) -> ('Practitioner', 12)."""
    kind, _, ident = value.rpartition("/")
    if not kind:
        if len(types) != 1:
            raise invalid(f"{param} needs a typed reference, e.g. {types[0]}/12.")
        kind = types[0]
    # Absolute references to this server (http://host/fhir/Practitioner/12) are fine too.
    kind = kind.rsplit("/", 1)[-1]
    if kind not in types:
        raise invalid(f"{param} refers to {' or '.join(types)}, not {kind}.")
    return kind, parse_id(ident, f"{kind} id")


def parse_tokens(value: str, system: str | None = None) -> list[str]:
    """Comma-separated codes, each optionally 'system|code' (the system must match)."""
    codes = []
    for item in value.split(","):
        sys_part, bar, code = item.partition("|")
        if not bar:
            code, sys_part = sys_part, ""
        if bar and sys_part and system is not None and sys_part != system:
            raise invalid(f"Unknown code system {sys_part!r}; expected {system}.")
        if not code:
            raise invalid("An empty code was given.")
        codes.append(code)
    return codes


# A date bound: ("ge", instant) means start >= instant; ("lt", instant) start < instant.
Bound = tuple[str, datetime]


def _period(m: re.Match[str], tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first, after) instants covered by a parsed date or dateTime."""
    year, month, day = int(m["year"]), m["month"], m["day"]
    try:
        if m["hour"] is not None:
            zone = m["zone"]
            at_tz: tzinfo = tz
            if zone == "Z":
                at_tz = UTC
            elif zone is not None:
                sign = 1 if zone[0] == "+" else -1
                at_tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
            second = m["second"]
            first = datetime(
                year,
                int(month),
                int(day),
                int(m["hour"]),
                int(m["minute"]),
                int(second or 0),
                tzinfo=at_tz,
            )
            return first, first + timedelta(seconds=1 if second is not None else 60)
        if day is not None:
            d = date(year, int(month), int(day))
            after = d + timedelta(days=1)
        elif month is not None:
            d = date(year, int(month), 1)
            after = date(year + (d.month == 12), d.month % 12 + 1, 1)
        else:
            d, after = date(year, 1, 1), date(year + 1, 1, 1)
    except ValueError as exc:
        raise invalid(f"{m.string!r} is not a valid date: {exc}.") from exc
    return datetime.combine(d, datetime.min.time(), tz), datetime.combine(
        after, datetime.min.time(), tz
    )


def parse_date(value: str, zone_name: str, param: str = "date") -> list[Bound]:
    """One date parameter as bounds on the start instant (dates without a zone are read
    in ``zone_name``)."""
    m = _DATE.match(value)
    if m is None:
        raise invalid(
            f"{param}={value!r} is not a FHIR date; write e.g. ge2026-03-18 or "
            "lt2026-03-18T12:00:00Z."
        )
    prefix = m["prefix"] or "eq"
    first, after = _period(m, ZoneInfo(zone_name))
    if prefix == "eq":
        return [("ge", first), ("lt", after)]
    if prefix == "lt":
        return [("lt", first)]
    if prefix == "le":
        return [("lt", after)]
    if prefix == "gt":
        return [("ge", after)]
    if prefix == "ge":
        return [("ge", first)]
    raise invalid(f"The date prefix {prefix!r} is not supported; use eq, lt, le, gt or ge.")


def window(bounds: Iterable[Bound]) -> tuple[datetime | None, datetime | None]:
    """The [lo, hi) the bounds leave (None: open on that side)."""
    lo: datetime | None = None
    hi: datetime | None = None
    for op, at in bounds:
        if op == "ge":
            lo = at if lo is None else max(lo, at)
        else:
            hi = at if hi is None else min(hi, at)
    return lo, hi


def parse_bool(value: str, param: str) -> bool:
    if value not in ("true", "false"):
        raise invalid(f"{param} is true or false.")
    return value == "true"
