"""Phone numbers: +86, 11-digit mobiles, landlines with an area code (libphonenumber)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType, ValidationResult

DIALLABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong length",
}


class InvalidPhone(ValueError):
    pass


@dataclass(frozen=True)
class Phone:
    e164: str
    """+8613800138000: how numbers are stored and compared."""
    national: str
    """13800138000 / 02088886666: what the trunk dials."""


def normalize_phone(raw: str, region: str = "CN") -> Phone:
    """A mobile or landline number, or InvalidPhone with a reason a person can act on."""
    text = raw.strip()
    if not text:
        raise InvalidPhone("empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as err:
        raise InvalidPhone(f"not a phone number ({err._msg})") from err
    if number.extension:
        # An extension (ext 1234, ,12, #9) would be dialled as digits after the number: the
        # robot would call a number other than the one stored and shown to officers.
        raise InvalidPhone("has an extension; give the number alone")
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in REASONS:
        raise InvalidPhone(REASONS[possible])
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number (for a landline, include the area code, e.g. 020-88886666)")
    if phonenumbers.number_type(number) not in DIALLABLE:
        raise InvalidPhone("not a mobile or landline number (service and premium numbers are not called)")
    if phonenumbers.region_code_for_number(number) != region:
        raise InvalidPhone(f"not a {region} number; only numbers in {region} are called")
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    digits = "".join(ch for ch in national if ch.isdigit())
    return Phone(e164=phonenumbers.format_number(number, PhoneNumberFormat.E164), national=digits)
