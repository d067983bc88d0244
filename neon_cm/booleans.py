"""Reading a yes/no switch (an environment variable, a value in Consul, the CLI's view of one) one way everywhere."""

from __future__ import annotations

#: The words every switch takes silently, in any case and with whitespace around them.
TRUE_WORD, FALSE_WORD = "true", "false"
#: Other spellings people write for a switch: understood, and said once, so a typo of another kind stands out.
OTHER_TRUE = ("yes", "on", "1")
OTHER_FALSE = ("no", "off", "0")
SPELLINGS = "true nor false (yes/no, on/off and 1/0 are read too)"


def parse_switch(text: str | None, default: bool = False) -> tuple[bool, str | None]:
    """A switch's value from its text, and a note for the operator when the text was not plainly true or false.

    Missing or blank: `default`, no note. `true`/`false` in any case, whitespace around it ignored: no note.
    `yes`/`on`/`1` and `no`/`off`/`0`: that value, and a note saying how it was read. Anything else: `default`,
    and a note saying so. The note starts with the text quoted (a newline shows as `\\n`), so a caller writes
    `f"{name}={note}"`; the caller says it once, not at every reading.
    """
    if text is None or not text.strip():
        return default, None
    word = text.strip().lower()
    if word in (TRUE_WORD, FALSE_WORD):
        return word == TRUE_WORD, None
    if word in OTHER_TRUE or word in OTHER_FALSE:
        value = word in OTHER_TRUE
        return value, f"{text!r} read as {str(value).lower()}"
    return default, f"{text!r} is neither {SPELLINGS}; taken as {str(default).lower()}"


def switch_text(text: str | None) -> str:
    """A stored switch's text for a message: as it is when plain, else quoted so a newline or space shows."""
    if text is None:
        return "<missing>"
    return text if text.isprintable() and text == text.strip() and text else repr(text)
