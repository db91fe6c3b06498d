"""Numbers posted or put in a query string, read the one way that cannot raise."""

from __future__ import annotations

import re


def whole_number(text: str | None, digits: int = 18) -> int | None:
    """`text` as a whole number when it is 1 to `digits` ASCII digits, else None: not "²" (a
    digit to str.isdigit(), which int() refuses), not a sign, not 5,000 digits."""
    if text is None or not re.fullmatch(rf"[0-9]{{1,{digits}}}", text):
        return None
    return int(text)
