"""What a customer's name may contain: what people are called, in any script.

Pure (stdlib only), shared by the booking page's form and the API's schema.

Accepted: every letter, mark, number, punctuation, symbol and space, and the
invisible format characters names and emoji are made of: U+200C ZERO WIDTH
NON-JOINER (Persian "علی‌رضا"), U+200D ZERO WIDTH JOINER (emoji sequences such as
"💇‍♀️", and Indic conjuncts), the left-to-right and right-to-left marks, emoji
tags (subdivision flags). Refused: control characters (C0, DEL, C1; PostgreSQL
refuses NUL, and tabs, line breaks and escape codes only do harm on the staff's
pages and in calendar files), the line and paragraph separators, the
bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069),
which would make a name display as other text than it is, lone surrogates and
unassigned code points; and a name with nothing visible in it.
"""

from __future__ import annotations

import unicodedata

# Categories no name needs: controls, surrogates, unassigned, line/paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Cn", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
# A visible character: a letter, mark, number, punctuation or symbol.
_VISIBLE_CATEGORY_CLASSES = frozenset("LMNPS")

# The same rule as a regular expression, for the API's OpenAPI document (which
# cannot name Unicode categories portably): the characters refused by code point.
# The code (name_problem) is what decides; this is what a client can check first.
REFUSED_CODE_POINTS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
NAME_PATTERN = rf"^[^{REFUSED_CODE_POINTS}]*[^\s{REFUSED_CODE_POINTS}][^{REFUSED_CODE_POINTS}]*$"


def name_problem(value: str) -> str | None:
    """None for an acceptable name, else why not, as a code: "not_printable"
    (a refused character) or "invisible" (nothing to read)."""
    visible = False
    for ch in value:
        category = unicodedata.category(ch)
        if category in _REFUSED_CATEGORIES or ch in _BIDI_CONTROLS:
            return "not_printable"
        visible = visible or category[0] in _VISIBLE_CATEGORY_CLASSES
    return None if visible else "invisible"
