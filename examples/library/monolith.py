#!/usr/bin/env python3
"""The lending library: a small legacy monolith in Python (standard library + Debian's python3-psycopg2).

It knows nothing of strangler-fig. Every change to a book also inserts an outbox row, with plain SQL, in the same
transaction (the contract in docs/outbox.md); the relay, backfill, verify and sync do the rest.

  GET /healthz                 GET /books, /books/<id>      POST /books, PATCH /books/<id>
  POST /members, GET /members/<id>                          POST /loans, POST /loans/<id>/return

Environment: DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/library), PORT (default 5000),
SEED_BOOKS (books to create on start when there are none, written before the outbox existed: no events).
"""
import json
import os
import uuid
from decimal import Decimal

from psycopg2.extras import Json

from jsonhttp import HttpError, apply_schema, connect, require, serve, transaction

STATUS_NAMES = {"S": "on_shelf", "L": "lent", "W": "withdrawn"}
STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}
BOOK_COLUMNS = "id, title, author, shelf, replacement_cost, status, version"
pool = connect("library")


def api_view(row):
    book_id, title, author, shelf, cost, status, version = row
    return {"id": book_id, "title": title, "author": author, "shelf": shelf, "replacementCost": float(cost),
            "status": STATUS_NAMES[status], "version": version, "servedBy": "legacy"}


def publish_book(cursor, row, event_type):
    """The outbox row for a book change: the book as the mapping's legacy document, in the caller's transaction."""
    book_id, title, author, shelf, cost, status, version = row
    document = {"id": book_id, "title": title, "author": author, "shelf": shelf, "cost": float(cost),
                "status": status, "version": version}
    cursor.execute(
        "insert into outbox (id, aggregatetype, aggregateid, type, payload, headers) values (%s, %s, %s, %s, %s, %s)",
        (str(uuid.uuid4()), "book", str(book_id), event_type, Json(document),
         Json({"origin": "legacy", "version": str(version)})),
    )


def book_or_404(cursor, book_id, lock=False):
    cursor.execute(f"select {BOOK_COLUMNS} from books where id = %s{' for update' if lock else ''}", (book_id,))
    row = cursor.fetchone()
    if row is None:
        raise HttpError(404, f"no book {book_id}")
    return row


def list_books(match, body):
    with transaction(pool) as cursor:
        cursor.execute(f"select {BOOK_COLUMNS} from books order by id")
        return 200, [api_view(row) for row in cursor.fetchall()]


def get_book(match, body):
    with transaction(pool) as cursor:
        return 200, api_view(book_or_404(cursor, int(match[1])))


BOOK_FIELDS = {"title": str, "author": str, "shelf": str, "replacementCost": (int, float), "status": str}


def check_status(body):
    if "status" in body and body["status"] not in STATUS_CODES:
        raise HttpError(400, f"status: must be one of {', '.join(STATUS_CODES)}")


def create_book(match, body):
    require(body, ["title", "author", "shelf", "replacementCost"], BOOK_FIELDS)
    check_status(body)
    with transaction(pool) as cursor:
        cursor.execute(
            f"insert into books (title, author, shelf, replacement_cost, status) values (%s, %s, %s, %s, %s) returning {BOOK_COLUMNS}",
            (body["title"], body["author"], body["shelf"], Decimal(str(body["replacementCost"])), STATUS_CODES[body.get("status", "on_shelf")]),
        )
        row = cursor.fetchone()
        publish_book(cursor, row, "BookAdded")
        return 201, api_view(row)


def update_book(match, body):
    require(body, [], BOOK_FIELDS)
    check_status(body)
    with transaction(pool) as cursor:
        row = book_or_404(cursor, int(match[1]), lock=True)
        return 200, api_view(change_book(cursor, row, body, "BookChanged"))


def change_book(cursor, row, changes, event_type):
    book_id, title, author, shelf, cost, status, version = row
    cursor.execute(
        f"update books set title = %s, author = %s, shelf = %s, replacement_cost = %s, status = %s, version = version + 1,"
        f" last_writer = 'legacy' where id = %s returning {BOOK_COLUMNS}",
        (changes.get("title", title), changes.get("author", author), changes.get("shelf", shelf),
         Decimal(str(changes["replacementCost"])) if "replacementCost" in changes else cost,
         STATUS_CODES[changes["status"]] if "status" in changes else status, book_id),
    )
    changed = cursor.fetchone()
    publish_book(cursor, changed, event_type)
    return changed


def create_member(match, body):
    require(body, ["name", "email"], {"name": str, "email": str})
    with transaction(pool) as cursor:
        cursor.execute("insert into members (name, email) values (%s, %s) on conflict (email) do nothing returning id", (body["name"], body["email"]))
        row = cursor.fetchone()
        if row is None:
            raise HttpError(409, f"email: {body['email']} is already a member")
        return 201, {"id": row[0], "name": body["name"], "email": body["email"]}


def get_member(match, body):
    with transaction(pool) as cursor:
        cursor.execute("select id, name, email from members where id = %s", (int(match[1]),))
        row = cursor.fetchone()
        if row is None:
            raise HttpError(404, f"no member {match[1]}")
        cursor.execute("select book_id from loans where member_id = %s and returned_at is null order by id", (row[0],))
        return 200, {"id": row[0], "name": row[1], "email": row[2], "onLoan": [book for (book,) in cursor.fetchall()]}


def lend(match, body):
    require(body, ["bookId", "memberId"], {"bookId": int, "memberId": int})
    with transaction(pool) as cursor:
        row = book_or_404(cursor, body["bookId"], lock=True)
        if row[5] != "S":
            raise HttpError(409, f"book {row[0]} is {STATUS_NAMES[row[5]]}, not on the shelf")
        cursor.execute("select 1 from members where id = %s", (body["memberId"],))
        if cursor.fetchone() is None:
            raise HttpError(404, f"no member {body['memberId']}")
        cursor.execute("insert into loans (book_id, member_id) values (%s, %s) returning id", (row[0], body["memberId"]))
        (loan_id,) = cursor.fetchone()
        change_book(cursor, row, {"status": "lent"}, "BookLent")
        return 201, {"id": loan_id, "bookId": row[0], "memberId": body["memberId"]}


def give_back(match, body):
    with transaction(pool) as cursor:
        cursor.execute("update loans set returned_at = now() where id = %s and returned_at is null returning book_id", (int(match[1]),))
        returned = cursor.fetchone()
        if returned is None:
            raise HttpError(404, f"no open loan {match[1]}")
        change_book(cursor, book_or_404(cursor, returned[0], lock=True), {"status": "on_shelf"}, "BookReturned")
        return 200, {"id": int(match[1]), "bookId": returned[0], "returned": True}


def seed(count):
    """Books from before the outbox existed: rows without events, which only a backfill can move."""
    with transaction(pool) as cursor:
        cursor.execute("select count(*) from books")
        if cursor.fetchone()[0] > 0:
            return
        for n in range(1, count + 1):
            cursor.execute(
                "insert into books (title, author, shelf, replacement_cost, status) values (%s, %s, %s, %s, %s)",
                (f"Book {n}", f"Author {n % 7}", f"{chr(65 + n % 6)}-{n % 12:02d}", Decimal(f"{5 + n % 20}.{n % 100:02d}"), "SLW"[n % 3]),
            )


ROUTES = [
    ("GET", r"/healthz", lambda match, body: (200, {"ok": True, "servedBy": "legacy"})),
    ("GET", r"/books/?", list_books),
    ("POST", r"/books/?", create_book),
    ("GET", r"/books/(\d+)", get_book),
    ("PATCH", r"/books/(\d+)", update_book),
    ("POST", r"/members/?", create_member),
    ("GET", r"/members/(\d+)", get_member),
    ("POST", r"/loans/?", lend),
    ("POST", r"/loans/(\d+)/return", give_back),
]

if __name__ == "__main__":
    apply_schema(pool, os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema", "library.sql"))
    seed(int(os.environ.get("SEED_BOOKS", "0")))
    os.environ.setdefault("PORT", "5000")
    serve("library monolith", ROUTES)
