"""How logs, and readers not allowed the full particulars, see a phone number (at most its
last 4 digits) and a name (its first character)."""

from __future__ import annotations


def mask_phone(number: str) -> str:
    """`***8000` for 13800138000, +8613800138000 or 138-0013-8000; for a `sip:` URI, the
    last 4 digits of its user part (never the host's address). `***` if there are no digits."""
    text = number
    if text.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1].split("@", 1)[0]
    digits = [character for character in text if character.isdigit()]
    return "***" + "".join(digits[-4:])


def mask_name(name: str) -> str:
    """`王*` for 王芳: the first character, then one `*` for each of the others."""
    return name[:1] + "*" * (len(name) - 1) if name else ""
