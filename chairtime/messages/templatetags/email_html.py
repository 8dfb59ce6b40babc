"""Template filters of the HTML e-mails."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def strong(value) -> SafeString:
    """``value`` (escaped) in bold: ``{% blocktranslate with day=day|strong %}``
    keeps the markup out of the sentence, so the HTML part's sentences are the
    plain-text part's, translated once."""
    return format_html("<strong>{}</strong>", value)
