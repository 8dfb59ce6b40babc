"""EMAIL_BACKEND_KIND (chairtime/settings.py): in AWS the worker sends through Amazon
SES's API with django-ses, with the process's AWS credentials. Sent here to a real SES
wire-protocol server (moto) on loopback, from a fresh process with the settings as a
pod gets them from the ConfigMap."""

# Runs manage.py with our own arguments.
# ruff: noqa: S603

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

ROOT = Path(__file__).resolve().parents[3]
SENDER = "bookings@salon.example.com"

SEND = """
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
message = EmailMultiAlternatives("Your appointment", "plain", to=["customer@example.org"])
message.attach_alternative("<p>html</p>", "text/html")
message.attach("visit.ics", "BEGIN:VCALENDAR\\r\\nEND:VCALENDAR\\r\\n", "text/calendar")
print(settings.EMAIL_BACKEND, message.send())
"""


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "AWS_", "DEFAULT_FROM"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            **clean,
            "DEBUG": "false",
            "SECRET_KEY": "test-only",
            "DATABASE_URL": "sqlite://:memory:",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def ses():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "ses",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto's state is per process
    try:
        yield endpoint, client
    finally:
        server.stop()


def ses_env(endpoint: str) -> dict[str, str]:
    return {
        "EMAIL_BACKEND_KIND": "ses",
        "DEFAULT_FROM_EMAIL": f"Salon <{SENDER}>",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_SES": endpoint,
        # What Pod Identity gives boto3 in a pod; any credentials do for moto.
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }


def test_it_sends_a_message_with_its_calendar_file_through_the_ses_api(ses):
    endpoint, client = ses
    client.verify_domain_identity(Domain="salon.example.com")
    done = manage(ses_env(endpoint), "shell", "--no-imports", "-c", SEND)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["django_ses.SESBackend", "1"]
    [sent] = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    raw = sent.raw_data
    assert f"From: Salon <{SENDER}>" in raw
    assert "customer@example.org" in raw
    assert 'filename="visit.ics"' in raw


def test_a_sender_ses_does_not_know_is_a_failed_attempt_not_a_silent_loss(ses):
    endpoint, _client = ses  # nothing verified
    done = manage(ses_env(endpoint), "shell", "--no-imports", "-c", SEND)
    assert done.returncode != 0
    assert "MessageRejected" in done.stderr
    assert ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EMAIL_BACKEND_KIND": "sendgrid"}, "use one of ses, smtp, file"),
        ({"EMAIL_BACKEND_KIND": "smtp"}, "EMAIL_BACKEND_KIND=smtp needs EMAIL_HOST"),
        ({"EMAIL_BACKEND_KIND": "ses"}, "needs DEFAULT_FROM_EMAIL at the SES identity"),
    ],
)
def test_it_refuses_to_start_with_an_e_mail_setting_that_cannot_work(env, message):
    done = manage(env, "check")
    assert done.returncode != 0
    assert message in done.stderr


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, "django.core.mail.backends.filebased.EmailBackend"),
        ({"EMAIL_HOST": "smtp.example.com"}, "django.core.mail.backends.smtp.EmailBackend"),
        (
            {"EMAIL_BACKEND_KIND": "file", "EMAIL_HOST": "smtp.example.com"},
            "django.core.mail.backends.filebased.EmailBackend",
        ),
    ],
)
def test_without_a_kind_it_keeps_the_smtp_or_file_choice(env, backend):
    done = manage(
        {"DEBUG": "true", **env},
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == backend
