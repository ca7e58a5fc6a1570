"""How logs show a phone number: at most its last 4 digits."""

from __future__ import annotations


def mask_phone(number: str) -> str:
    """`***8000` for 13800138000, +8613800138000 or 138-0013-8000; for a `sip:` URI, the
    last 4 digits of its user part (never the host's address). `***` if there are no digits."""
    text = number
    if text.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1].split("@", 1)[0]
    digits = [character for character in text if character.isdigit()]
    return "***" + "".join(digits[-4:])
