"""Reads of the counter that look beyond the user's jurisdiction, and say no more than the counter may know.

通城通办: a person presenting his ID card at any window of the city is found by that number; outside the clerk's
jurisdiction the clerk learns only the district that holds the record (``PersonElsewhere``), never the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.identifiers import id_number_normalize
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Office, Person


@dataclass(frozen=True)
class PersonElsewhere:
    """A person registered in another district: the district's name only."""

    district_name: str


def person_by_number_citywide(id_number: str) -> Person | None:
    """The person with this number anywhere in the city (for services acting on a number the person presented:
    增员 by an employer of another district, 通城通办). Never shown to a clerk as such."""
    number = id_number_normalize(id_number)
    return Person.objects.select_related("residence_office").filter(id_number=number).first()


def district_of(person: Person) -> Office | None:
    code = person.residence_office.district_code
    return Office.objects.filter(code=code).first() if code else None


def person_lookup_at_counter(*, user: Any, id_number: str) -> Person | PersonElsewhere | None:
    """The person in the user's jurisdiction; ``PersonElsewhere`` (district name only) when registered in another
    district; None when the city has no such number."""
    person = person_by_number_citywide(id_number)
    if person is None:
        return None
    if office_in_jurisdiction(user, person.residence_office):
        return person
    district = district_of(person)
    return PersonElsewhere(district_name=(district.short_name or district.name) if district else "")
