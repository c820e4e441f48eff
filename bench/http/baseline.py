"""The bare baseline of the HTTP benchmark: the list queries the API answers, written by hand.

A minimal WSGI app (no Django, no DRF, no authentication) with psycopg 3 and a psycopg_pool
per process, like the app's DATABASE_POOL; bench/http/run.py serves it with the same gunicorn
command line as the app. Each route answers the same question as its API list: the same
columns (joined the same way), filters, ordering and page size, the same JSON fields, and a
`next` link. What it leaves out is everything else a request to the app goes through (the
middleware, the JWT and membership checks, the throttle, the serializers): the difference is
the framework's cost, and the app's throughput is reported as a fraction of this one's.

    GET /bookings?page_size=50                      first page, soonest first
    GET /bookings?after=<start>,<id>                the keyset seek (a deep page)
    GET /bookings?paging=offset&page=N              a numbered page (OFFSET and a COUNT)
    GET /bookings/today                             today in the workspace's time zone
    GET /conversations                              the inbox, by last activity
    GET /contacts?q=...                             the search, newest first, tags joined

The workspace is the X-Workspace-ID header, as for the API.
"""

from __future__ import annotations

import json
import os
import threading
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlencode

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()
_zones: dict[int, zoneinfo.ZoneInfo] = {}


def pool() -> ConnectionPool:
    """One pool per worker process, opened after gunicorn forks (as the app's is)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                conninfo = os.environ.get(
                    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/careops_bench"
                )
                _pool = ConnectionPool(
                    conninfo,
                    min_size=int(os.environ.get("DATABASE_POOL_MIN_SIZE", "2")),
                    max_size=int(os.environ.get("DATABASE_POOL_MAX_SIZE", "10")),
                    timeout=float(os.environ.get("DATABASE_POOL_TIMEOUT", "10")),
                    # Autocommit, as Django runs outside atomic blocks: no BEGIN/COMMIT round trips.
                    kwargs={
                        "options": "-c TimeZone=UTC",
                        "row_factory": dict_row,
                        "autocommit": True,
                    },
                    open=True,
                )
    return _pool


# --- The queries (the API's, by hand) -------------------------------------------------------
# Each list: its FROM and joins, its WHERE, its ORDER BY, and the keyset seek after a row.


@dataclass(frozen=True)
class ListQuery:
    select: str  # columns, FROM and joins
    table: str  # FROM and WHERE alone, for the page-number COUNT
    where: str
    order: str
    seek: str = ""

    def page(self, *, seek: bool = False, offset: bool = False) -> str:
        where = f"{self.where} AND {self.seek}" if seek else self.where
        sql = f"SELECT {self.select}\nWHERE {where}\nORDER BY {self.order}\nLIMIT %(limit)s"
        return sql + " OFFSET %(offset)s" if offset else sql

    def count(self) -> str:
        # The parts are this module's constants; values travel as parameters.
        return f"SELECT COUNT(*) AS n FROM {self.table} WHERE {self.where}"  # noqa: S608


BOOKING_COLUMNS = """
    b.id, b.start, b."end", b.status, b.source, b.notes, b.reschedule_count,
    b.status_changed_at, b.created_at, b.updated_at,
    t.id AS t_id, t.name AS t_name, t.slug AS t_slug, t.duration_minutes AS t_duration,
    c.id AS c_id, c.name AS c_name, c.email AS c_email, c.phone AS c_phone,
    u.id AS u_id, u.name AS u_name, u.email AS u_email
FROM bookings_booking b
JOIN bookings_bookingtype t ON t.id = b.booking_type_id
JOIN contacts_contact c ON c.id = b.contact_id
LEFT JOIN workspaces_user u ON u.id = b.staff_id"""

BOOKINGS = ListQuery(
    select=BOOKING_COLUMNS,
    table="bookings_booking b",
    where="b.workspace_id = %(ws)s",
    order="b.start, b.id",
    seek="(b.start, b.id) > (%(after_start)s, %(after_id)s)",
)

BOOKINGS_TODAY = ListQuery(
    select=BOOKING_COLUMNS,
    table="bookings_booking b",
    where="b.workspace_id = %(ws)s AND b.start >= %(day_start)s AND b.start < %(day_end)s"
    " AND NOT (b.status = 'cancelled')",
    order="b.start, b.id",
)

CONVERSATIONS = ListQuery(
    select="""
    v.id, v.status, v.unread_count, v.last_message_at, v.last_message_preview,
    v.last_inbound_channel, v.automation_paused, v.automation_paused_at, v.created_at,
    c.id AS c_id, c.name AS c_name, c.email AS c_email, c.phone AS c_phone,
    u.id AS u_id, u.name AS u_name, u.email AS u_email,
    EXISTS (
        SELECT 1 FROM messaging_message m
        WHERE m.conversation_id = v.id AND m.direction = 'outbound' AND m.status = 'failed'
    ) AS has_failed
FROM messaging_conversation v
JOIN contacts_contact c ON c.id = v.contact_id
LEFT JOIN workspaces_user u ON u.id = v.assigned_to_id""",
    table="messaging_conversation v",
    where="v.workspace_id = %(ws)s",
    # The app's order (messaging.selectors.INBOX_ORDER): NULLS LAST by another name, written
    # as a literal so that the expression index on it can serve it.
    order="COALESCE(v.last_message_at, '0001-01-01 00:00:00+00:00'::timestamptz) DESC, v.id DESC",
)

CONTACT_COLUMNS = """
    c.id, c.name, c.email, c.phone, c.source, c.notes, c.custom_fields,
    c.email_consent, c.email_consent_at, c.email_consent_source,
    c.sms_consent, c.sms_consent_at, c.sms_consent_source, c.created_at, c.updated_at
FROM contacts_contact c"""

CONTACTS = ListQuery(
    select=CONTACT_COLUMNS,
    table="contacts_contact c",
    where="c.workspace_id = %(ws)s",
    order="c.created_at DESC, c.id DESC",
)

# Django's icontains on PostgreSQL: UPPER(column::text) LIKE UPPER(pattern).
CONTACTS_SEARCH = ListQuery(
    select=CONTACT_COLUMNS,
    table="contacts_contact c",
    where="c.workspace_id = %(ws)s AND (UPPER(c.name::text) LIKE UPPER(%(like)s)"
    " OR UPPER(c.email::text) LIKE UPPER(%(like)s))",
    order="c.created_at DESC, c.id DESC",
)

CONTACT_TAGS = """SELECT ct.contact_id, t.name
FROM contacts_tag t JOIN contacts_contact_tags ct ON ct.tag_id = t.id
WHERE ct.contact_id = ANY(%(ids)s)
ORDER BY t.name"""

WORKSPACE_ZONE = "SELECT timezone FROM workspaces_workspace WHERE id = %(ws)s"


# --- JSON as DRF writes it ------------------------------------------------------------------


def _dt(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _person(row: dict, prefix: str) -> dict | None:
    if row[f"{prefix}_id"] is None:
        return None
    return {
        "id": row[f"{prefix}_id"],
        "name": row[f"{prefix}_name"],
        "email": row[f"{prefix}_email"],
    }


def _contact_brief(row: dict) -> dict:
    return {
        "id": row["c_id"],
        "name": row["c_name"],
        "email": row["c_email"],
        "phone": row["c_phone"],
    }


def _booking(row: dict) -> dict:
    return {
        "id": row["id"],
        "booking_type": {
            "id": row["t_id"],
            "name": row["t_name"],
            "slug": row["t_slug"],
            "duration_minutes": row["t_duration"],
        },
        "contact": _contact_brief(row),
        "staff": _person(row, "u"),
        "start": _dt(row["start"]),
        "end": _dt(row["end"]),
        "status": row["status"],
        "source": row["source"],
        "notes": row["notes"],
        "reschedule_count": row["reschedule_count"],
        "status_changed_at": _dt(row["status_changed_at"]),
        "created_at": _dt(row["created_at"]),
        "updated_at": _dt(row["updated_at"]),
    }


def _conversation(row: dict) -> dict:
    return {
        "id": row["id"],
        "contact": _contact_brief(row),
        "status": row["status"],
        "unread_count": row["unread_count"],
        "last_message_at": _dt(row["last_message_at"]),
        "last_message_preview": row["last_message_preview"],
        "last_inbound_channel": row["last_inbound_channel"],
        "assigned_to": _person(row, "u"),
        "automation_paused": row["automation_paused"],
        "automation_paused_at": _dt(row["automation_paused_at"]),
        "has_failed": row["has_failed"],
        "created_at": _dt(row["created_at"]),
    }


def _contact(row: dict, tags: list[str]) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "first_name": (row["name"].split() or [""])[0],
        "email": row["email"],
        "phone": row["phone"],
        "source": row["source"],
        "tags": sorted(tags, key=str.lower),
        "notes": row["notes"],
        "custom_fields": row["custom_fields"],
        "email_consent": row["email_consent"],
        "email_consent_at": _dt(row["email_consent_at"]),
        "email_consent_source": row["email_consent_source"],
        "sms_consent": row["sms_consent"],
        "sms_consent_at": _dt(row["sms_consent_at"]),
        "sms_consent_source": row["sms_consent_source"],
        "created_at": _dt(row["created_at"]),
        "updated_at": _dt(row["updated_at"]),
    }


# --- Routes ---------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


def _one(query: dict[str, list[str]], name: str, default: str = "") -> str:
    return query.get(name, [default])[0]


def _page_size(query) -> int:
    try:
        size = int(_one(query, "page_size", str(PAGE_SIZE)))
    except ValueError:
        raise BadRequest("page_size") from None
    return max(1, min(size, MAX_PAGE_SIZE))


def _fetch_page(cur, spec: ListQuery, params: dict, query, path: str, serialize, cursor_of):
    """One page of `spec`: a keyset page ({"next", "previous", "results"}, seeking after
    `after`), or with paging=offset a numbered page with its COUNT, as DRF's paginators."""
    size = _page_size(query)
    if _one(query, "paging") == "offset":
        try:
            page = max(1, int(_one(query, "page", "1") or 1))
        except ValueError:
            raise BadRequest("page") from None
        cur.execute(spec.count(), params)
        count = cur.fetchone()["n"]
        cur.execute(spec.page(offset=True), {**params, "limit": size, "offset": (page - 1) * size})
        results = serialize(cur.fetchall())
        following = None
        if page * size < count:
            following = f"{path}?{urlencode({'paging': 'offset', 'page': page + 1})}"
        return {"count": count, "next": following, "previous": None, "results": results}
    after = _one(query, "after")
    params = {**params, "limit": size + 1}
    if after and spec.seek:
        start, _, pk = after.rpartition(",")
        try:
            params.update(after_start=datetime.fromisoformat(start), after_id=int(pk))
        except ValueError:
            raise BadRequest("after") from None
        cur.execute(spec.page(seek=True), params)
    else:
        cur.execute(spec.page(), params)
    rows = serialize(cur.fetchall())
    following = None
    if len(rows) > size:
        rows = rows[:size]
        following = f"{path}?{urlencode({'page_size': size, 'after': cursor_of(rows[-1])})}"
    return {"next": following, "previous": None, "results": rows}


def _bookings(rows: list[dict]) -> list[dict]:
    return [_booking(r) for r in rows]


def _booking_seek(row: dict) -> str:
    return f"{row['start']},{row['id']}"


def bookings(cur, ws: int, query, path: str) -> dict:
    return _fetch_page(cur, BOOKINGS, {"ws": ws}, query, path, _bookings, _booking_seek)


def bookings_today(cur, ws: int, query, path: str) -> dict:
    zone = _zones.get(ws)
    if zone is None:
        cur.execute(WORKSPACE_ZONE, {"ws": ws})
        row = cur.fetchone()
        if row is None:
            raise BadRequest("workspace")
        zone = _zones[ws] = zoneinfo.ZoneInfo(row["timezone"])
    today = datetime.now(zone).date()
    params = {
        "ws": ws,
        "day_start": datetime.combine(today, time.min, tzinfo=zone),
        "day_end": datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone),
    }
    return _fetch_page(cur, BOOKINGS_TODAY, params, query, path, _bookings, _booking_seek)


def conversations(cur, ws: int, query, path: str) -> dict:
    return _fetch_page(
        cur,
        CONVERSATIONS,
        {"ws": ws},
        query,
        path,
        lambda rows: [_conversation(r) for r in rows],
        lambda r: f"{r['last_message_at']},{r['id']}",
    )


def contacts(cur, ws: int, query, path: str) -> dict:
    q = _one(query, "q").strip()
    spec, params = CONTACTS, {"ws": ws}
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        spec, params = CONTACTS_SEARCH, {"ws": ws, "like": f"%{escaped}%"}

    def serialize(rows: list[dict]) -> list[dict]:
        tags: dict[int, list[str]] = {r["id"]: [] for r in rows}
        if tags:
            cur.execute(CONTACT_TAGS, {"ids": list(tags)})
            for tag in cur.fetchall():
                tags[tag["contact_id"]].append(tag["name"])
        return [_contact(r, tags[r["id"]]) for r in rows]

    return _fetch_page(
        cur, spec, params, query, path, serialize, lambda r: f"{r['created_at']},{r['id']}"
    )


ROUTES = {
    "/bookings": bookings,
    "/bookings/today": bookings_today,
    "/conversations": conversations,
    "/contacts": contacts,
}


def _respond(start_response, status: str, body: bytes, content_type="application/json"):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/health":
        return _respond(start_response, "200 OK", b"ok", "text/plain")
    route = ROUTES.get(path.rstrip("/") or "/")
    if route is None:
        return _respond(start_response, "404 Not Found", b'{"code":"not_found"}')
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        ws = int(environ.get("HTTP_X_WORKSPACE_ID", ""))
        with pool().connection() as conn, conn.cursor() as cur:
            payload = route(cur, ws, query, path)
    except (BadRequest, ValueError) as exc:
        body = json.dumps({"code": "invalid", "message": str(exc)}).encode()
        return _respond(start_response, "400 Bad Request", body)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return _respond(start_response, "200 OK", body)
