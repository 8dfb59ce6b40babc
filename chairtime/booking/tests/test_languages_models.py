"""The back office's words that come from the models (docs/languages.md): the
apps' and models' names, field labels, help texts, choices and validation
messages follow the manager's language switch (its cookie), and stay in English,
word for word as before, when no language is asked for.

Each page is also read in English, so the English phrases a French or Spanish page
must not show are known to be on the page when no language is asked for.
"""

from __future__ import annotations

import html

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.text import camel_case_to_spaces

from chairtime.booking import services

LANGUAGES = ["en", "fr", "es"]
LABELLED_APPS = ["booking", "customer_messages", "frontdesk", "clients"]
# The plural names the models had before they were translated (the others: name + "s").
OLD_PLURALS = {
    "timeoff": "time off",
    "workinghours": "working hours",
    "specialhours": "special hours",
    "waitlistentry": "waitlist entries",
}


@pytest.fixture
def manager(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))
    return client


def speak(client: Client, language: str) -> dict:
    """French or Spanish chosen with the language switch (its cookie), against the
    browser's English; English by nothing at all."""
    if language != "en":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        return {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.8"}
    return {}


def page_text(response) -> str:
    """The page's HTML with entities decoded and each run of white space one space."""
    return " ".join(html.unescape(response.content.decode()).split())


def assert_speaks(response, language: str, phrases: dict[str, list[str]]) -> None:
    """Every phrase of ``language`` is on the page; on a French or Spanish page,
    none of the English ones."""
    assert response.status_code == 200
    text = page_text(response)
    assert f'lang="{language}"' in text
    missing = [p for p in phrases[language] if p not in text]
    assert not missing, f"{language}: missing {missing}"
    if language != "en":
        english = [p for p in phrases["en"] if p in text]
        assert not english, f"{language}: still in English {english}"


def labelled_models():
    return [model for label in LABELLED_APPS for model in apps.get_app_config(label).get_models()]


def test_it_keeps_every_english_field_label_django_s_own():
    """The explicit verbose names must say what Django derived from the field's
    name, so the English back office reads exactly as before."""
    with translation.override("en"):
        changed = [
            f"{model.__name__}.{field.name}: {field.verbose_name}"
            for model in labelled_models()
            for field in model._meta.get_fields()
            if not field.auto_created
            and hasattr(field, "verbose_name")
            and str(field.verbose_name) != field.name.replace("_", " ")
        ]
    assert not changed


def test_it_keeps_every_english_model_name():
    with translation.override("en"):
        changed = [
            f"{model.__name__}: {model._meta.verbose_name} / {model._meta.verbose_name_plural}"
            for model in labelled_models()
            if (str(model._meta.verbose_name), str(model._meta.verbose_name_plural))
            != (
                camel_case_to_spaces(model.__name__),
                OLD_PLURALS.get(model._meta.model_name, camel_case_to_spaces(model.__name__) + "s"),
            )
        ]
    assert not changed


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_admin_index_names_apps_and_models_in_the_manager_s_language(manager, demo, language):
    response = manager.get("/admin/", **speak(manager, language))

    assert_speaks(
        response,
        language,
        {
            "en": [
                "Customer messages",
                "Stylists",
                "Services",
                "Time off",
                "Appointments",
                "Schedule exceptions",
                "Waitlist entries",
                "Closures",
                "Staff members",
            ],
            "fr": [
                "Messages aux clients",
                "Stylistes",
                "Prestations",
                "Absences",
                "Rendez-vous",
                "Exceptions d'horaire",
                "Inscriptions sur liste d'attente",
                "Fermetures",
                "Membres du personnel",
            ],
            "es": [
                "Salón",
                "Mensajes a los clientes",
                "Estilistas",
                "Servicios",
                "Ausencias",
                "Citas",
                "Excepciones de horario",
                "Inscripciones en lista de espera",
                "Cierres",
                "Miembros del personal",
            ],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_salon_s_fields_and_help_texts_speak_the_manager_s_language(manager, demo, language):
    response = manager.get(f"/admin/booking/salon/{demo.salon.pk}/change/", **speak(manager, language))

    assert_speaks(
        response,
        language,
        {
            "en": [
                "Time zone:",
                "Slot minutes:",
                "Min notice minutes:",
                "Horizon days:",
                "Change notice minutes:",
                "Reminder minutes:",
                "Waitlist hold minutes:",
                "Currency:",
                "Offered start times are this many minutes apart.",
                "How many days ahead customers may book.",
                "ISO 4217 code of the prices, e.g. USD, EUR, GBP.",
            ],
            "fr": [
                "Fuseau horaire",
                "Intervalle des créneaux (minutes)",
                "Préavis minimum (minutes)",
                "Horizon de réservation (jours)",
                "Délai de modification (minutes)",
                "Rappels (minutes avant)",
                "Réserve pour la liste d'attente (minutes)",
                "Devise",
                "Nombre de minutes entre deux heures de début proposées.",
                "Combien de jours à l'avance les clients peuvent réserver.",
                "Code ISO 4217 des prix, par exemple USD, EUR, GBP.",
            ],
            "es": [
                "Zona horaria",
                "Intervalo entre horas (minutos)",
                "Antelación mínima (minutos)",
                "Horizonte de reserva (días)",
                "Plazo para cambios (minutos)",
                "Recordatorios (minutos antes)",
                "Reserva para la lista de espera (minutos)",
                "Moneda",
                "Minutos entre dos horas de inicio ofrecidas.",
                "Con cuántos días de antelación pueden reservar los clientes.",
                "Código ISO 4217 de los precios, por ejemplo USD, EUR, GBP.",
            ],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_working_hours_name_the_weekdays_in_the_manager_s_language(manager, demo, language):
    response = manager.get(f"/admin/booking/stylist/{demo.ana.pk}/change/", **speak(manager, language))

    assert_speaks(
        response,
        language,
        {
            "en": [">Monday<", ">Wednesday<", ">Sunday<", "Weekday"],
            "fr": [">lundi<", ">mercredi<", ">dimanche<", "Jour de la semaine"],
            "es": [">lunes<", ">miércoles<", ">domingo<", "Día de la semana"],
        },
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_appointments_status_filter_speaks_the_manager_s_language(manager, demo, language):
    day = demo.next_working_day()
    kept = book_haircut(demo, demo.local(day, 10))
    services.appointment_cancel(appointment_id=book_haircut(demo, demo.local(day, 14)).pk)

    response = manager.get("/admin/booking/appointment/", **speak(manager, language))

    assert kept.status == "confirmed"
    assert_speaks(
        response,
        language,
        {
            "en": ["By status", ">Confirmed<", ">Cancelled<"],
            "fr": ["Par statut", ">Confirmé<", ">Annulé<"],
            "es": ["Por estado", ">Confirmada<", ">Cancelada<"],
        },
    )


def book_haircut(demo, start):
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        start=start,
        customer_name="Kim",
        customer_email=f"kim{start:%H}@example.com",
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_models_validation_messages_speak_the_manager_s_language(manager, demo, language):
    day = demo.next_working_day().isoformat()
    ends_first = {"stylist": demo.ana.pk, "start_0": day, "start_1": "12:00", "end_0": day, "end_1": "09:00"}
    ends_first = manager.post("/admin/booking/timeoff/add/", ends_first, **speak(manager, language))
    too_early = manager.post(
        "/admin/booking/closure/add/", {"date": "1999-12-31"}, **speak(manager, language)
    )

    for response, phrases in [
        (
            ends_first,
            {
                "en": ["The end must be after the start."],
                "fr": ["La fin doit être après le début."],
                "es": ["El final debe ser posterior al inicio."],
            },
        ),
        (
            too_early,
            {
                "en": ["The date must be between 2000-01-01 and 2999-12-31 in the salon's time zone."],
                "fr": [
                    "La date doit être comprise entre le 2000-01-01 et le 2999-12-31 "
                    "dans le fuseau horaire du salon."
                ],
                "es": [
                    "La fecha debe estar entre el 2000-01-01 y el 2999-12-31 en la zona horaria del salón."
                ],
            },
        ),
    ]:
        assert_speaks(response, language, phrases)
