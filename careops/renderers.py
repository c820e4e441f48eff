"""The API's JSON renderer: DRF's JSON, written by orjson.

DRF's JSONRenderer writes with the json module: for a page of 50 bookings about 2.8 million
instructions, an eighth of the request. orjson writes datetimes itself, so the lists hand it
their rows' UTC datetimes as they are (careops.serializers.datetimes_renderer) rather than
formatting each in Python, and it writes the page, datetimes and all, in about 1 million: the
page's serializer went from 6.8 to 2.3 million (callgrind, bench/http's 100,000 bookings).

The same bytes: compact separators, UTF-8 as it is (UNICODE_JSON), datetimes in ISO 8601 with
"Z" for UTC as DRF's encoder writes them, U+2028 and U+2029 escaped. What orjson does not know
(Decimal, lazy translations, ...) goes through DRF's encoder, and whatever orjson refuses (an
integer past 64 bits, nesting deeper than 254, an aware time) and pretty printing are left to
DRF's renderer itself, so nothing DRF could render fails here. tests/test_json_renderer.py
holds the two to the same output. Where they differ, both valid JSON: a float's exponent is
written 1e-7 rather than 1e-07; a NaN or an infinity is null where DRF's strict JSON raises
(a 500); a UTC offset with seconds (local mean time before 1900) is written to the minute.
"""

from __future__ import annotations

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
_default = JSONEncoder().default
# DRF escapes these two so that its JSON is also valid JavaScript; so do we.
_LINE_SEPARATOR, _PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer with orjson writing the compact, UTF-8 case (the API's settings)."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        if (
            self.ensure_ascii
            or not self.compact
            # `application/json; indent=4` asks for pretty printing: DRF's own.
            or (accepted_media_type and ";" in accepted_media_type)
            or (renderer_context and renderer_context.get("indent") is not None)
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATOR in body or _PARAGRAPH_SEPARATOR in body:
            body = body.replace(_LINE_SEPARATOR, b"\\u2028").replace(
                _PARAGRAPH_SEPARATOR, b"\\u2029"
            )
        return body
