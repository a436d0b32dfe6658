"""Text as a terminal shows it: safe to print, measured in columns, shortened to fit.

Titles and descriptions come from a shared file that anyone (or any agent) may have written, so
before they reach a terminal their control characters are escaped: an ESC sequence in a title
must not move the cursor, change colours or retitle the window, and a bidirectional override
must not reorder the line around it. Widths count terminal columns, not code points: a CJK
character or most emoji take two, a combining mark none, so tables line up whatever the script.
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"

# Characters that reorder the text around them (the "Trojan Source" set); shown escaped.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _needs_escape(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS


def printable(text: object, *, keep_tabs: bool = False) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\u202e`)."""
    text = str(text)
    if text.isprintable():  # the common case, checked in C
        return text
    return "".join(
        _escape(char) if _needs_escape(char) and not (keep_tabs and char == "\t") else char
        for char in text
    )


def one_line(text: object) -> str:
    """Whitespace runs (newlines included) become one space; control characters are escaped."""
    return printable(" ".join(str(text or "").split()))


def char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0  # combining marks, variation selectors, zero-width joiners
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width(text: str) -> int:
    """Terminal columns `text` takes (for printable text)."""
    if text.isascii():
        return len(text)
    return sum(char_width(char) for char in text)


def truncate(text: str, columns: int) -> str:
    """`text` cut to at most `columns` columns, ending in an ellipsis when cut."""
    if width(text) <= columns:
        return text
    budget = max(0, columns - 1)
    used = 0
    kept = []
    for char in text:
        used += char_width(char)
        if used > budget:
            break
        kept.append(char)
    return "".join(kept) + ELLIPSIS


def pad(text: str, columns: int) -> str:
    """`text` padded with spaces to `columns` columns (ljust by display width)."""
    return text + " " * max(0, columns - width(text))
