"""The back office in French and Spanish (docs/languages.md): our own words on
Django's admin pages (the site's titles, fieldsets, inlines, columns, actions,
messages and the schedule-change page) follow the manager's language, chosen by
the browser (Accept-Language) or the language switch (its cookie).

Each page is also read in English, so the English phrases a French or Spanish page
must not show are known to be on the page when no language is asked for.
"""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from chairtime.booking import services
from chairtime.booking.models import Appointment, TimeOff
from chairtime.booking.tests.fixtures import DemoSalon
from chairtime.formats import format_long_day

LANGUAGES = ["en", "fr", "es"]


@pytest.fixture
def manager(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))
    return client


def speak(client: Client, language: str) -> dict:
    """French asked for by the browser, Spanish by the language switch's cookie,
    English by nothing at all."""
    if language == "es":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
        return {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.8"}  # the switch wins over the browser
    return {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"} if language == "fr" else {}


def page_text(response) -> str:
    """The page's HTML with entities decoded and each run of white space one space."""
    return " ".join(html.unescape(response.content.decode()).split())


def assert_speaks(response, language: str, phrases: dict[str, list[str]]) -> None:
    """Every phrase of ``language`` is on the page; on a French or Spanish page,
    none of the English ones."""
    text = page_text(response)
    assert f'lang="{language}"' in text
    missing = [p for p in phrases[language] if p not in text]
    assert not missing, f"{language}: missing {missing}"
    if language != "en":
        english = [p for p in phrases["en"] if p in text]
        assert not english, f"{language}: still in English {english}"


def book(demo: DemoSalon, day: date, hh: int) -> Appointment:
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        start=demo.local(day, hh),
        customer_name="Kim",
        customer_email="kim@example.com",
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_titles_the_back_office_in_the_manager_s_language(manager, demo, language):
    response = manager.get("/admin/", **speak(manager, language))

    assert response.status_code == 200
    assert_speaks(
        response,
        language,
        {
            "en": ["Chairtime back office", "Run the salon"],
            "fr": ["Administration de Chairtime", "Gérer le salon"],
            "es": ["Administración de Chairtime", "Gestionar el salón"],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_shows_the_salon_settings_in_the_manager_s_language(manager, demo, language):
    response = manager.get(f"/admin/booking/salon/{demo.salon.pk}/change/", **speak(manager, language))

    assert response.status_code == 200
    assert_speaks(
        response,
        language,
        {
            "en": [
                "Contact (in e-mails and calendar entries)",
                "Online booking",
                "Changes, reminders and the waitlist",
            ],
            "fr": [
                "Coordonnées (dans les e-mails et les entrées d'agenda)",
                "Réservation en ligne",
                "Modifications, rappels et liste d'attente",
            ],
            "es": [
                "Contacto (en los correos y en las entradas de calendario)",
                "Reservas en línea",
                "Cambios, recordatorios y lista de espera",
            ],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_shows_a_stylist_s_services_and_hours_in_the_manager_s_language(manager, demo, language):
    response = manager.get(f"/admin/booking/stylist/{demo.ana.pk}/change/", **speak(manager, language))

    assert response.status_code == 200
    assert_speaks(
        response,
        language,
        {
            "en": [
                "Services offered (price and length: empty for the service's own)",
                "Working hours </h2>",
                "Time off </h2>",
                "Special hours (replace the weekly hours on these dates)",
            ],
            "fr": [
                "Prestations proposées (prix et durée : vides pour ceux de la prestation)",
                "Horaires de travail </h2>",
                "Absences </h2>",
                "Horaires spéciaux (remplacent les horaires hebdomadaires à ces dates)",
            ],
            "es": [
                "Servicios ofrecidos (precio y duración: vacíos para los del propio servicio)",
                "Horarios de trabajo </h2>",
                "Ausencias </h2>",
                "Horarios especiales (sustituyen al horario semanal en esas fechas)",
            ],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_shows_a_service_s_phases_in_the_manager_s_language(manager, demo, language):
    response = manager.get(f"/admin/booking/service/{demo.colour.pk}/change/", **speak(manager, language))

    assert response.status_code == 200
    assert_speaks(
        response,
        language,
        {
            "en": ["Phases (stylist empty: the standard phases"],
            "fr": ["Phases (styliste vide : les phases standard"],
            "es": ["Fases (estilista vacío: las fases estándar"],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_refuses_phases_in_the_manager_s_language(manager, demo, language):
    form = {
        "key": demo.colour.key,
        "name": demo.colour.name,
        "duration_minutes": "120",
        "price": "80.00",
        "position": "0",
        "buffer_before_minutes": "0",
        "buffer_after_minutes": "0",
        "is_active": "on",
        "phases-TOTAL_FORMS": "2",
        "phases-INITIAL_FORMS": "0",
        "phases-0-position": "0",
        "phases-0-minutes": "30",
        "phases-0-processing": "on",
        "phases-1-position": "1",
        "phases-1-minutes": "30",
        "_save": "Save",
    }

    response = manager.post(
        f"/admin/booking/service/{demo.colour.pk}/change/", form, **speak(manager, language)
    )

    assert response.status_code == 200  # the form again, with the error
    assert_speaks(
        response,
        language,
        {
            "en": ["The standard phases: the first phase cannot be a processing phase"],
            "fr": ["Phases standard : la première phase ne peut pas être une phase de pose"],
            "es": ["Fases estándar: la primera fase no puede ser una fase de exposición"],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_lists_appointments_in_the_manager_s_language(manager, demo, language):
    day = demo.next_working_day()
    book(demo, day, 10)

    response = manager.get("/admin/booking/appointment/", **speak(manager, language))

    assert response.status_code == 200
    assert_speaks(
        response,
        language,
        {
            "en": ["Cancel the selected appointments", ">Status<"],
            "fr": ["Annuler les rendez-vous sélectionnés", ">Statut<"],
            "es": ["Cancelar las citas seleccionadas", ">Estado<"],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_appointment_s_page_and_its_cancel_speak_the_manager_s_language(manager, demo, language):
    day = demo.next_working_day()
    appointment = book(demo, day, 10)
    with translation.override(language):
        long_day = format_long_day(day)
    url = f"/admin/booking/appointment/{appointment.pk}/change/"

    shown = manager.get(url, **speak(manager, language))
    cancelled = manager.post(
        f"/admin/booking/appointment/{appointment.pk}/cancel/", follow=True, **speak(manager, language)
    )

    assert_speaks(
        shown,
        language,
        {
            "en": ["Cancel this appointment", f"All appointments on {long_day}", "Messages to the customer"],
            "fr": ["Annuler ce rendez-vous", f"Tous les rendez-vous du {long_day}", "Messages au client"],
            "es": ["Cancelar esta cita", f"Todas las citas del {long_day}", "Mensajes al cliente"],
        },
    )
    assert_speaks(
        cancelled,
        language,
        {
            "en": ["Cancelled; its time is free again."],
            "fr": ["Annulé ; son créneau est de nouveau libre."],
            "es": ["Cancelada; su horario vuelve a estar libre."],
        },
    )


def add_time_off_over(manager: Client, demo: DemoSalon, day: date, language: str, **decisions: str):
    data = {
        "stylist": demo.ana.pk,
        "start_0": day.isoformat(),
        "start_1": "09:00",
        "end_0": day.isoformat(),
        "end_1": "12:00",
        "reason": "Dentist",
        "_save": "Save",
    }
    if decisions:
        data["_schedule_decisions"] = "1"
        data |= {f"decision-{pk}": value for pk, value in decisions.items()}
    return manager.post("/admin/booking/timeoff/add/", data, **speak(manager, language))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_schedule_change_page_speaks_the_manager_s_language(manager, demo, language):
    day = demo.next_working_day(min_days_ahead=3)
    appointment = book(demo, day, 10)
    with translation.override(language):
        long_day = format_long_day(day)

    response = add_time_off_over(manager, demo, day, language)

    assert response.status_code == 409
    assert f'name="decision-{appointment.pk}"' in response.content.decode()
    assert not TimeOff.objects.exists()
    assert_speaks(
        response,
        language,
        {
            "en": [
                "Appointments this change affects",
                "This change affects 1 booked appointment",
                "Nothing has been saved yet.",
                "With this change, the appointment below no longer fits what its stylist works.",
                "To move an appointment instead",
                "Affected appointments, times in America/Los_Angeles",
                ">Why it no longer fits<",
                "The stylist is away",
                f"{long_day}<br>10:00 AM \u2013 11:00 AM",
                "Decision for Kim at 10:00 AM",
                "> Keep<",
                "Cancel and tell the customer",
                "Save the change with these decisions",
                "Go back without saving",
            ],
            "fr": [
                "Rendez-vous concernés par ce changement",
                "Ce changement concerne 1 rendez-vous réservé",
                "Rien n'a encore été enregistré.",
                "le rendez-vous ci-dessous ne tient plus dans les horaires de travail de son styliste.",
                "Pour déplacer plutôt un rendez-vous",
                "Rendez-vous concernés, heures du fuseau America/Los_Angeles",
                ">Pourquoi il ne tient plus<",
                "Le styliste est absent",
                f"{long_day}<br>10:00 \u2013 11:00",
                "Décision pour Kim à 10:00",
                "> Conserver<",
                "Annuler et prévenir le client",
                "Enregistrer le changement avec ces décisions",
                "Revenir sans enregistrer",
            ],
            "es": [
                "Citas afectadas por este cambio",
                "Este cambio afecta a 1 cita reservada",
                "Todavía no se ha guardado nada.",
                "la siguiente cita ya no encaja en el horario de su estilista.",
                "Para mover una cita en lugar de eso",
                "Citas afectadas, horas de la zona America/Los_Angeles",
                ">Por qué ya no encaja<",
                "El estilista está ausente",
                f"{long_day}<br>10:00 \u2013 11:00",
                "Decisión para Kim a las 10:00",
                "> Mantener<",
                "Cancelar y avisar al cliente",
                "Guardar el cambio con estas decisiones",
                "Volver sin guardar",
            ],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_kept_appointment_s_reason_is_stored_in_english_and_shown_in_the_reader_s(manager, demo, language):
    day = demo.next_working_day(min_days_ahead=3)
    appointment = book(demo, day, 10)

    saved = add_time_off_over(manager, demo, day, language, **{str(appointment.pk): "keep"})
    listed = manager.get("/admin/booking/scheduleexception/", **speak(manager, language))

    assert saved.status_code == 302
    assert appointment.schedule_exception.reason == "the stylist is away"  # the same row for every reader
    assert_speaks(
        listed,
        language,
        {
            # (The row's checkbox is labelled by the model's __str__, in English.)
            "en": [">the stylist is away<", "Why it no longer fits"],
            "fr": [">le styliste est absent<", "Pourquoi il ne tient plus"],
            "es": [">el estilista está ausente<", "Por qué ya no encaja"],
        },
    )


def test_the_month_filter_names_months_in_the_manager_s_language(manager, demo):
    start = timezone.now() + timedelta(days=40)
    TimeOff.objects.create(stylist=demo.ben, start=start, end=start + timedelta(hours=2), reason="Training")
    local = start.astimezone(demo.salon.tz)

    response = manager.get("/admin/booking/timeoff/", **speak(manager, "fr"))

    text = page_text(response)
    french_months = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    assert f">{french_months.split()[local.month - 1]} {local.year}<" in text
    assert local.strftime("%B %Y") not in text  # no English month names


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_date_and_time_boxes_are_named_in_the_manager_s_language(manager, demo, language):
    response = manager.get("/admin/booking/timeoff/add/", **speak(manager, language))

    # (The field's own name, "Start", comes from the model's verbose name.)
    assert_speaks(
        response,
        language,
        {
            "en": ['aria-label="Start: date"', 'aria-label="End: time"'],
            "fr": ['aria-label="Début : date"', 'aria-label="Fin : heure"'],
            "es": ['aria-label="Inicio: fecha"', 'aria-label="Final: hora"'],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_what_became_of_the_affected_appointments_is_said_in_the_manager_s_language(manager, demo, language):
    day = demo.next_working_day(min_days_ahead=3)
    appointment = book(demo, day, 10)

    response = manager.post(
        "/admin/booking/timeoff/add/",
        {
            "stylist": demo.ana.pk,
            "start_0": day.isoformat(),
            "start_1": "09:00",
            "end_0": day.isoformat(),
            "end_1": "12:00",
            "_save": "Save",
            "_schedule_decisions": "1",
            f"decision-{appointment.pk}": "cancel",
        },
        follow=True,
        **speak(manager, language),
    )

    assert_speaks(
        response,
        language,
        {
            "en": ["kept as exceptions: 0; cancelled (their customers are being told): 1."],
            "fr": ["conservés comme exceptions : 0 ; annulés (leurs clients sont prévenus) : 1."],
            "es": ["mantenidas como excepciones: 0; canceladas (se está avisando a sus clientes): 1."],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_list_edit_that_would_strand_a_booking_says_so_in_the_manager_s_language(manager, demo, language):
    book(demo, demo.next_working_day(), 10)
    form = {"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "_save": "Save"}
    for n, stylist in enumerate(sorted([demo.ana, demo.ben], key=lambda s: (s.position, s.name))):
        form |= {
            f"form-{n}-id": str(stylist.pk),
            f"form-{n}-is_active": "" if stylist == demo.ana else "on",
            f"form-{n}-position": str(stylist.position),
        }

    response = manager.post("/admin/booking/stylist/", form, follow=True, **speak(manager, language))

    assert_speaks(
        response,
        language,
        {
            "en": [
                "Nothing was saved: this would leave 1 booked appointment(s) outside their stylist's hours."
            ],
            "fr": ["Rien n'a été enregistré : ce changement laisserait 1 rendez-vous réservé en dehors"],
            "es": [
                "No se ha guardado nada: esto dejaría 1 cita reservada fuera del horario de su estilista."
            ],
        },
    )
