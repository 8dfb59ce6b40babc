"""Resources: things with a quantity that phases hold (two basins, one colour
station). Each unit is counted on its own: a phase holds one unit of a resource
for the phase's whole span, and a unit is never held twice at one instant. So no
instant has more phases holding a resource than its quantity, and the database
can back the rule per unit (one row per unit, an exclusion constraint per unit).

Counting units rather than phases is slightly stricter than "at most quantity at
every instant": with two basins held 09:00-10:00 (unit 1) and 10:00-11:00
(unit 2), a phase 09:30-10:30 would fit the count but no single basin. The
engine offers only what the booking can then write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from chairtime.booking.availability.spans import Span, Spans, utc_spans


@dataclass(frozen=True)
class Resources:
    """Every unit of every resource and the spans its holds cover.

    ``units`` maps a resource id to its units: unit id -> held ``[start, end)``
    aware instants. A resource with quantity 3 has three units, held or not. A
    resource missing from ``units`` has none, so a phase that needs it never fits.
    """

    units: Mapping[int, Mapping[int, Sequence[Span]]] = field(default_factory=dict)
    _free_order: Mapping[int, tuple[tuple[int, Spans], ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_free_order",
            MappingProxyType(
                {
                    resource: tuple(
                        (unit, Spans.merge(utc_spans(spans, "resource holds")))
                        for unit, spans in sorted(by_unit.items())
                    )
                    for resource, by_unit in self.units.items()
                }
            ),
        )

    def free_unit(self, resource: int, start: datetime, end: datetime) -> int | None:
        """The lowest unit of ``resource`` free over ``[start, end)`` (UTC), or
        None when every unit is held then.

        A visit never competes with itself for a unit: its items run back to
        back and their phases one after another, so no two of its phases
        overlap in time."""
        for unit, spans in self._free_order.get(resource, ()):
            if not spans.overlaps(start, end):
                return unit
        return None


NO_RESOURCES = Resources()
