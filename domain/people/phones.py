"""A phone number a person types, as the care office keeps it."""

from __future__ import annotations

import phonenumbers


def valid_phone(text: str) -> str | None:
    """A typed number, accepted if it is a real one (mainland China unless +country), in
    E.164; None if it is not one."""
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
