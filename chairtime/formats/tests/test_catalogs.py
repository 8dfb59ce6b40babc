"""The translation catalogs ship complete: every string of every catalog
translated, none fuzzy, the same placeholders as the English, and compiled."""

from __future__ import annotations

import pytest
from django.conf import settings

from chairtime.formats import catalogs


def test_every_language_but_english_has_a_catalog_in_every_locale_folder():
    assert [code for code, _ in settings.LANGUAGES if code != "en"] == list(catalogs.LANGUAGES)
    assert catalogs.catalog_paths(), "no catalogs found"
    assert catalogs.missing_languages() == []


@pytest.mark.parametrize("path", catalogs.catalog_paths(), ids=lambda p: str(p.relative_to(catalogs.ROOT)))
def test_the_catalog_is_complete_and_compiled(path):
    assert catalogs.problems(path) == []


def test_it_finds_what_would_ship_english_or_break_a_page(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        "\n".join(
            [
                'msgid ""',
                'msgstr ""',
                '"Content-Type: text/plain; charset=UTF-8\\n"',
                "",
                'msgid "Book"',
                'msgstr ""',
                "",
                "#, fuzzy",
                'msgid "Cancel"',
                'msgstr "Annuler"',
                "",
                'msgid "Hello %(name)s"',
                'msgstr "Bonjour %(nom)s"',
                "",
                'msgid "Fine"',
                'msgstr "Bien"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    found = catalogs.problems(po)
    assert any("'Book' has no translation" in line for line in found)
    assert any("'Cancel' is marked fuzzy" in line for line in found)
    assert any("['%(nom)s'] are not ['%(name)s']" in line for line in found)
    assert any("django.mo is not compiled" in line for line in found)
    assert not any("'Fine'" in line for line in found)
    (tmp_path / "django.mo").write_bytes(catalogs.compiled(po))
    assert not any("not compiled" in line for line in catalogs.problems(po))
