from __future__ import annotations

from django.http import HttpRequest

from chairtime.announcements import store


def announcements(request: HttpRequest) -> dict:
    # Lazy: pages that never show announcements never ask DynamoDB (or the cache).
    return {"announcements": store.current_announcements}
