"""The report in French and Spanish: the page writes its days, decimals and money as
the manager's language does; the CSV translates its titles only, its numbers stay
machine-readable (dot decimals) for spreadsheets and scripts (docs/reports.md)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.conf import settings

from chairtime.booking.models import Appointment
from chairtime.reports.tests.test_figures import DAY, manager, salon, week  # noqa: F401 (fixtures)

NBSP, NNBSP = "\u00a0", "\u202f"
RANGE = {"from": DAY.isoformat(), "to": DAY.isoformat()}
MACHINE_NUMBER = re.compile(r"^(\d+(\.\d+)?)?$")  # "8.00", "25.0", "1234.50", "3" or empty


def speak(client, language: str) -> dict:
    """French through the browser's header, Spanish through the switch's cookie."""
    if language == "es":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
        return {}
    return {"HTTP_ACCEPT_LANGUAGE": "fr-CA,fr;q=0.9"}


@pytest.fixture
def big_day(week):  # noqa: F811
    """Ana's completed colour priced so her revenue has thousands: 1234.50."""
    completed = Appointment.objects.filter(desk_state__attendance="completed", stylist=week.demo.ana)
    colour, cut = sorted(completed, key=lambda a: a.starts_at)
    Appointment.objects.filter(pk=colour.pk).update(price=Decimal("1234.50") - cut.price)
    return week


@pytest.mark.parametrize(
    ("language", "caption", "revenue", "nothing", "figures", "words"),
    [
        (
            "fr",
            "Du lundi 15 mars 2027 au lundi 15 mars 2027, par styliste et au total",
            f"1{NNBSP}234,50{NBSP}$US",
            f"0,00{NBSP}$US",
            ["<td>8,00</td>", "<td>2,00</td>", "<td>25,0 %</td>"],
            ["Heures de travail", "Chiffre d'affaires", "Tous les stylistes", "Télécharger en CSV"],
        ),
        (
            "es",
            "Del lunes 15 de marzo de 2027 al lunes 15 de marzo de 2027, por estilista y en total",
            f"1.234,50{NBSP}US$",
            f"0,00{NBSP}US$",
            ["<td>8,00</td>", "<td>2,00</td>", "<td>25,0 %</td>"],
            ["Horas de trabajo", "Ingresos", "Todos los estilistas", "Descargar en CSV"],
        ),
    ],
)
def test_the_page_speaks_the_managers_language_with_its_days_and_money(
    manager,  # noqa: F811
    big_day,
    language,
    caption,
    revenue,
    nothing,
    figures,
    words,
):
    response = manager.get("/desk/reports/", RANGE, **speak(manager, language))

    page = response.content.decode()
    assert response.status_code == 200 and f'<html lang="{language}">' in page
    assert caption in page
    assert f"<td>{revenue}</td>" in page  # Ana, and the total
    assert f"<td>{nothing}</td>" in page  # Ben completed nothing: no revenue, not "free"
    for figure in figures:
        assert figure in page
    for word in words:
        assert word in page
    for english in (
        "Working hours",
        "Booked hours",
        "All stylists",
        "Download as CSV",
        "How these are counted",
        "per stylist and in total",
        "First day",
        "March",
        "<td>8.00</td>",
        "$1,234.50",
    ):
        assert english not in page, f"{english!r} is still in English"


@pytest.mark.parametrize(
    ("language", "titles", "revenue_title", "total"),
    [
        (
            "fr",
            ["Styliste", "Heures de travail", "Heures réservées", "Taux d'occupation %"],
            "Chiffre d'affaires (USD)",
            "Tous les stylistes",
        ),
        (
            "es",
            ["Estilista", "Horas de trabajo", "Horas reservadas", "Ocupación %"],
            "Ingresos (USD)",
            "Todos los estilistas",
        ),
    ],
)
def test_the_csv_translates_its_titles_and_keeps_its_numbers_machine_readable(
    manager,  # noqa: F811
    big_day,
    language,
    titles,
    revenue_title,
    total,
):
    download = manager.get("/desk/reports/", {**RANGE, "format": "csv"}, **speak(manager, language))

    table = list(csv.reader(io.StringIO(download.content.decode())))
    assert table[0][:4] == titles and table[0][6] == revenue_title
    assert not {"Stylist", "Working hours", "Revenue (USD)"} & set(table[0])
    by_name = {line[0]: line for line in table[1:]}
    assert by_name["Ana"][1:4] == ["8.00", "2.00", "25.0"]
    assert by_name["Ana"][6] == by_name[total][6] == "1234.50"
    assert by_name["Ben"][6] == "0.00"
    for line in table[1:]:
        assert all(MACHINE_NUMBER.match(cell) for cell in line[1:]), line
    assert "chairtime-report-2027-03-15-2027-03-15.csv" in download["Content-Disposition"]


@pytest.mark.parametrize(
    ("language", "query", "sentence"),
    [
        ("fr", {"from": "2027-03-15", "to": "2027-03-14"}, "Le dernier jour est antérieur au premier jour."),
        ("es", {"from": "2027-03-15", "to": "2027-03-14"}, "El último día es anterior al primer día."),
        ("fr", {"from": "2027-02-30"}, "Le premier jour doit être une date au format AAAA-MM-JJ"),
        ("es", {"to": "15/03/2027"}, "El último día debe ser una fecha con el formato AAAA-MM-DD"),
        ("fr", {"from": "2026-01-01", "to": "2027-03-14"}, "Un rapport couvre au plus 366 jours."),
        ("es", {"from": "2026-01-01", "to": "2027-03-14"}, "Un informe abarca como máximo 366 días."),
    ],
)
def test_a_bad_range_says_why_in_the_managers_language(manager, language, query, sentence):  # noqa: F811
    response = manager.get("/desk/reports/", query, **speak(manager, language))
    assert response.status_code == 400
    page = response.content.decode()
    assert sentence in page
    assert "The last day" not in page and "The first day" not in page and "A report covers" not in page
