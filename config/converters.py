"""URL converters shared by every app; importing this module registers them."""

from django.urls import register_converter


class IdConverter:
    """A database id: at most 18 digits, so it always fits a 64-bit integer column.

    Plain ``<int:...>`` accepts any length, and an id past 2**63 - 1 makes the
    database driver raise OverflowError (a 500) instead of the 404 it deserves.
    """

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")
