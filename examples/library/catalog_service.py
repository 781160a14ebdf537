#!/usr/bin/env python3
"""The catalogue service extracted from the library monolith: it answers /books with the same API, from its own,
differently shaped tables (titles + title_copies, cost in cents, its own availability vocabulary).

It writes its outbox with plain SQL like the monolith, so `strangler sync --into legacy` keeps legacy's books
current and a rollback to legacy loses nothing. New titles take ids from 1000000 up (schema/catalog.sql).

Environment: DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/catalog), PORT (default 5001).
"""
import os
import uuid

from psycopg2.extras import Json

from jsonhttp import HttpError, apply_schema, connect, require, serve, transaction

AVAILABILITY = {"on_shelf": "on-shelf", "lent": "on-loan", "withdrawn": "withdrawn"}
STATUS = {value: key for key, value in AVAILABILITY.items()}
COLUMNS = "t.title_id, t.name, t.author_name, c.shelf_code, c.cost_cents, c.availability, t.revision"
FROM = "titles t join title_copies c using (title_id)"
FIELDS = {"title": str, "author": str, "shelf": str, "replacementCost": (int, float), "status": str}
pool = connect("catalog")


def api_view(row):
    title_id, name, author, shelf, cents, availability, revision = row
    return {"id": title_id, "title": name, "author": author, "shelf": shelf, "replacementCost": cents / 100,
            "status": STATUS[availability], "version": revision, "servedBy": "catalog"}


def check(body, required):
    require(body, required, FIELDS)
    if "status" in body and body["status"] not in AVAILABILITY:
        raise HttpError(400, f"status: must be one of {', '.join(AVAILABILITY)}")


def save(cursor, row, event_type):
    """Writes both tables and the outbox row (the service document of the mapping) in the caller's transaction."""
    title_id, name, author, shelf, cents, availability, revision = row
    cursor.execute(
        "insert into titles (title_id, name, author_name, revision, written_by) values (%s, %s, %s, %s, 'catalog')"
        " on conflict (title_id) do update set name = excluded.name, author_name = excluded.author_name,"
        " revision = excluded.revision, written_by = 'catalog'",
        (title_id, name, author, revision),
    )
    cursor.execute(
        "insert into title_copies (title_id, shelf_code, cost_cents, availability) values (%s, %s, %s, %s)"
        " on conflict (title_id) do update set shelf_code = excluded.shelf_code, cost_cents = excluded.cost_cents,"
        " availability = excluded.availability",
        (title_id, shelf, cents, availability),
    )
    document = {"titleId": title_id, "name": name, "authorName": author, "shelfCode": shelf, "costCents": cents,
                "availability": availability, "revision": revision}
    cursor.execute(
        "insert into outbox (id, aggregatetype, aggregateid, type, payload, headers) values (%s, %s, %s, %s, %s, %s)",
        (str(uuid.uuid4()), "book", str(title_id), event_type, Json(document), Json({"origin": "catalog", "version": str(revision)})),
    )
    return row


def cents(amount):
    return round(amount * 100)


def list_books(match, body):
    with transaction(pool) as cursor:
        cursor.execute(f"select {COLUMNS} from {FROM} order by t.title_id")
        return 200, [api_view(row) for row in cursor.fetchall()]


def get_book(match, body):
    with transaction(pool) as cursor:
        cursor.execute(f"select {COLUMNS} from {FROM} where t.title_id = %s", (int(match[1]),))
        row = cursor.fetchone()
        if row is None:
            raise HttpError(404, f"no book {match[1]}")
        return 200, api_view(row)


def create_book(match, body):
    check(body, ["title", "author", "shelf", "replacementCost"])
    with transaction(pool) as cursor:
        cursor.execute("select nextval('title_ids')")
        (title_id,) = cursor.fetchone()
        row = (title_id, body["title"], body["author"], body["shelf"], cents(body["replacementCost"]), AVAILABILITY[body.get("status", "on_shelf")], 1)
        return 201, api_view(save(cursor, row, "BookAdded"))


def update_book(match, body):
    check(body, [])
    with transaction(pool) as cursor:
        cursor.execute(f"select {COLUMNS} from {FROM} where t.title_id = %s for update of t", (int(match[1]),))
        row = cursor.fetchone()
        if row is None:
            raise HttpError(404, f"no book {match[1]}")
        title_id, name, author, shelf, amount, availability, revision = row
        changed = (title_id, body.get("title", name), body.get("author", author), body.get("shelf", shelf),
                   cents(body["replacementCost"]) if "replacementCost" in body else amount,
                   AVAILABILITY[body["status"]] if "status" in body else availability, revision + 1)
        return 200, api_view(save(cursor, changed, "BookChanged"))


ROUTES = [
    ("GET", r"/healthz", lambda match, body: (200, {"ok": True, "servedBy": "catalog"})),
    ("GET", r"/books/?", list_books),
    ("POST", r"/books/?", create_book),
    ("GET", r"/books/(\d+)", get_book),
    ("PATCH", r"/books/(\d+)", update_book),
]

if __name__ == "__main__":
    apply_schema(pool, os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema", "catalog.sql"))
    os.environ.setdefault("PORT", "5001")
    serve("catalog service", ROUTES)
