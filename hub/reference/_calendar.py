"""The working calendar 工作日历: which days count when a deadline is in working days.

Saturdays and Sundays are rest days, the public holidays of ``calendar.yaml`` too, and
the adjusted working weekends 调休上班 listed there are working days. Deadlines are
counted in Beijing time, the district's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from hub.errors import ReferenceDataError

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
_END_OF_DAY = time(23, 59, 59, 999000)
ENDS_KEPT = 4096  # deadlines remembered (about ten years of days, for a few lengths)


@dataclass(frozen=True)
class WorkCalendar:
    """Rest days and working days; years lists the years whose holidays are known."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    _warned: set[int] = field(default_factory=set, compare=False, repr=False)
    # (first day, working days) -> the deadline: every order's answer deadline is counted
    # here (twice a change: the lifecycle and its due-time index), and the days are few
    _ends: dict[tuple[date, int], datetime] = field(
        default_factory=dict, compare=False, repr=False
    )

    def is_working_day(self, day: date) -> bool:
        if self.years and day.year not in self.years and day.year not in self._warned:
            self._warned.add(day.year)
            log.warning(
                "the working calendar has no holidays for %d; counting weekends only. "
                "Add the State Council's %d holiday dates to calendar.yaml",
                day.year,
                day.year,
            )
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end (23:59:59.999 Beijing time) of the days-th working day after start's day.

        The day of start itself does not count (期限从次日起算), so an order received on a
        Friday with one working day is due at the end of the next Monday.
        """
        first = start.astimezone(BEIJING).date()
        end = self._ends.get((first, days))
        if end is None:
            day, left = first, days
            while left > 0:
                day += timedelta(days=1)
                if self.is_working_day(day):
                    left -= 1
            end = datetime.combine(day, _END_OF_DAY, tzinfo=BEIJING)
            if len(self._ends) >= ENDS_KEPT:
                self._ends.clear()
            self._ends[(first, days)] = end
        return end


class _DatesAsText(yaml.SafeLoader):
    """SafeLoader leaving dates as text, so an impossible one is reported with its entry."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _dates(path: Path, document: dict[str, object], key: str) -> frozenset[date]:
    raw = document.get(key) or []
    if not isinstance(raw, list):
        raise ReferenceDataError(f"{path}: '{key}' must be a list of dates (YYYY-MM-DD)")
    days = set()
    for index, value in enumerate(raw):
        if isinstance(value, date) and not isinstance(value, datetime):
            days.add(value)
            continue
        try:
            days.add(date.fromisoformat(str(value)))
        except ValueError:
            raise ReferenceDataError(
                f"{path}: {key}[{index}]: '{value}' is not a date; write YYYY-MM-DD"
            ) from None
    return frozenset(days)


def load_calendar(path: Path) -> WorkCalendar:
    """Read calendar.yaml; a wrong entry raises ReferenceDataError naming it."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_DatesAsText)  # noqa: S506
    except OSError as exc:
        raise ReferenceDataError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ReferenceDataError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ReferenceDataError(f"{path}: top level must be a mapping (years, holidays, workdays)")
    years = document.get("years") or []
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise ReferenceDataError(f"{path}: 'years' must be a list of years, e.g. [2026]")
    holidays = _dates(path, document, "holidays")
    workdays = _dates(path, document, "workdays")
    both = sorted(holidays & workdays)
    if both:
        raise ReferenceDataError(
            f"{path}: {', '.join(map(str, both))} listed both as holiday and as working day"
        )
    outside = sorted(d for d in holidays | workdays if d.year not in years)
    if outside:
        raise ReferenceDataError(
            f"{path}: {outside[0]} lies outside the listed years {years}; add its year"
        )
    return WorkCalendar(holidays, workdays, frozenset(years))
