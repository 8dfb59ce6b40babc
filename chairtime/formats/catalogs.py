"""The translation catalogs: compiling them, and what makes one unfit to ship.

``python -m chairtime.formats.catalogs tidy`` gives new catalogs the project's
header (and drops the dates msgmerge stamps on every run); ``compile`` writes each ``django.mo`` beside
its ``django.po`` (scripts/messages); ``check`` lists every problem and exits 1 if
there is one. The catalog test runs the same checks, so a string added to a page
without its French and Spanish fails the suite rather than showing in English.
"""

from __future__ import annotations

import io
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent  # the chairtime package
FIXED_DATE = datetime(2026, 12, 7, tzinfo=UTC)
LANGUAGES = ("fr", "es")  # every language but English, the source's
# %(name)s and %s / %d as Python's % operator reads them; {name} as str.format does.
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]|\{\w*\}")


def catalog_paths() -> list[Path]:
    """Every catalog of the project (django.po, and djangojs.po for scripts), sorted."""
    return sorted(ROOT.glob("**/locale/*/LC_MESSAGES/*.po"))


def read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def compiled(path: Path) -> bytes:
    """The .mo bytes of the catalog at ``path``: fuzzy entries left out, as gettext does."""
    catalog = read(path)
    # Babel stamps the header with "now" where the .po has no dates (tidy drops
    # them): a fixed date keeps the bytes the same on every run and machine.
    catalog.creation_date = catalog.revision_date = FIXED_DATE
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def placeholders(text: str) -> list[str]:
    return sorted(match.group(0) for match in _PLACEHOLDER.finditer(text))


def problems(path: Path) -> list[str]:
    """What is wrong with one catalog, one sentence each; [] when it can ship."""
    found = []
    where = path.relative_to(ROOT.parent) if path.is_relative_to(ROOT.parent) else path
    for message in read(path):
        if not message.id:
            continue  # the header
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        label = f"{where}: {ids[0]!r}"
        if message.fuzzy:
            found.append(f"{label} is marked fuzzy: check the translation, then remove the flag")
        if not all(strings):
            found.append(f"{label} has no translation")
            continue
        wanted = placeholders(ids[-1])
        for string in strings:
            have = placeholders(string)
            # A plural form may leave the count out ("une fois"), never add a name.
            fits = set(have) <= set(wanted) if len(ids) > 1 else have == wanted
            if not fits:
                found.append(f"{label}: the translation's placeholders {have} are not {wanted}")
    mo = path.with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != compiled(path):
        found.append(f"{where}: {mo.name} is not compiled from it (run scripts/messages compile)")
    return found


def missing_languages() -> list[str]:
    """A locale folder that has some languages' catalogs but not all of them."""
    found = []
    for folder, name in sorted({(path.parents[2], path.name) for path in catalog_paths()}):
        for language in LANGUAGES:
            if not (folder / language / "LC_MESSAGES" / name).exists():
                found.append(f"{folder.relative_to(ROOT.parent)} has no {language} {name}")
    return found


def tidy(path: Path) -> None:
    """Give a catalog that makemessages has just made the project's header: its
    language, the project's name, and no "fuzzy" flag on the header itself."""
    language = path.parents[1].name
    head, blank, rest = path.read_text(encoding="utf-8").partition("\n\n")
    lines = [line for line in head.splitlines() if not line.startswith("#")]
    replacements = {
        '"Project-Id-Version: PACKAGE VERSION\\n"': '"Project-Id-Version: Chairtime\\n"',
        '"Language: \\n"': f'"Language: {language}\\n"',
        '"Language-Team: LANGUAGE <LL@li.org>\\n"': f'"Language-Team: {language}\\n"',
        '"Last-Translator: FULL NAME <EMAIL@ADDRESS>\\n"': '"Last-Translator: Chairtime\\n"',
    }
    # The dates msgmerge stamps would make every run a change (and a merge conflict).
    lines = [
        '"Project-Id-Version: Chairtime\\n"'
        if line.startswith('"Project-Id-Version:')
        else replacements.get(line, line)
        for line in lines
        if not line.startswith(('"POT-', '"PO-Revision', '"Generated-By'))
    ]
    comment = f"# Chairtime: the {language} catalog. Written by scripts/messages; see docs/languages.md."
    path.write_text("\n".join([comment, *lines]) + blank + rest, encoding="utf-8")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "tidy":
        for path in catalog_paths():
            tidy(path)
        return 0
    if command == "compile":
        for path in catalog_paths():
            path.with_suffix(".mo").write_bytes(compiled(path))
            print(f"compiled {path.relative_to(ROOT.parent)}")
        return 0
    if command == "check":
        found = missing_languages() + [problem for path in catalog_paths() for problem in problems(path)]
        print("\n".join(found) or f"{len(catalog_paths())} catalogs: complete and compiled")
        return 1 if found else 0
    print("usage: python -m chairtime.formats.catalogs [tidy|compile|check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
