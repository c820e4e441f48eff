"""The API's JSON parser: a body too deeply nested for Python's json module (a RecursionError,
raised from deep inside the decoder) is a 400 like any other malformed body, not a 500."""

from __future__ import annotations

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError

TOO_DEEP = "JSON parse error - the body is nested too deeply."


def loads_json(text: str | bytes):
    """json.loads, with a nesting too deep for the decoder as a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser; RecursionError (and ValueError) from the decoder become ParseError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
