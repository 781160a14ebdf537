"""The example's own tiny JSON-over-HTTP plumbing (standard library + psycopg2), shared by its two apps."""
import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from psycopg2.pool import ThreadedConnectionPool


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


POOL_SIZE = 8


class Pool(ThreadedConnectionPool):
    """psycopg2's pool fails when every connection is taken; this one makes the request thread wait instead."""

    def __init__(self, url):
        super().__init__(1, POOL_SIZE, url)
        self.free = threading.BoundedSemaphore(POOL_SIZE)

    def getconn(self, *args):
        self.free.acquire()
        try:
            return super().getconn(*args)
        except Exception:
            self.free.release()
            raise

    def putconn(self, *args, **kwargs):
        try:
            super().putconn(*args, **kwargs)
        finally:
            self.free.release()


def connect(default_database):
    return Pool(os.environ.get("DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/{default_database}"))


def apply_schema(pool, path):
    with open(path, encoding="utf-8") as file:
        ddl = file.read()
    with transaction(pool) as cursor:
        cursor.execute("select pg_advisory_xact_lock(hashtext(%s))", (path,))
        cursor.execute(ddl)


class transaction:
    """`with transaction(pool) as cursor:` commits on success and rolls back on an exception."""

    def __init__(self, pool):
        self.pool = pool

    def __enter__(self):
        self.connection = self.pool.getconn()
        self.cursor = self.connection.cursor()
        return self.cursor

    def __exit__(self, kind, value, traceback):
        try:
            if kind is None:
                self.connection.commit()
            else:
                self.connection.rollback()
        finally:
            self.cursor.close()
            self.pool.putconn(self.connection)
        return False


def require(body, fields, types):
    """Every missing or mistyped field, named at once."""
    problems = [f"{name}: is required" for name in fields if name not in body]
    for name, expected in types.items():
        if name in body and (not isinstance(body[name], expected) or isinstance(body[name], bool)):
            problems.append(f"{name}: must be {expected_name(expected)}")
    unknown = sorted(set(body) - set(types))
    problems += [f"{name}: unknown field" for name in unknown]
    if problems:
        raise HttpError(400, "; ".join(problems))


def expected_name(expected):
    names = [t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,))]
    return {"str": "a string", "int": "a number", "float": "a number"}.get(names[0], " or ".join(names))


def serve(name, routes):
    """Serves `routes` ([(method, regex, handler(match, body) -> (status, json))]) on $PORT until SIGTERM."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_any(self):
            path = self.path.split("?", 1)[0]
            try:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise HttpError(400, "the body must be a JSON object")
                allowed = [route for route in routes if re.fullmatch(route[1], path)]
                if not allowed:
                    raise HttpError(404, f"no route {path}")
                for method, pattern, handler in allowed:
                    if method == self.command:
                        status, payload = handler(re.fullmatch(pattern, path), body)
                        break
                else:
                    raise HttpError(405, f"{self.command} not allowed on {path}")
            except HttpError as error:
                status, payload = error.status, {"error": str(error)}
            except json.JSONDecodeError as error:
                status, payload = 400, {"error": f"the body is not JSON: {error}"}
            except Exception as error:  # noqa: BLE001 - an HTTP server answers 500 rather than dying
                print(f"{name}: {self.command} {path}: {error!r}", file=sys.stderr, flush=True)
                status, payload = 500, {"error": "internal error"}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any

    port = int(os.environ.get("PORT", "0"))
    server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{name} listening on http://{server.server_address[0]}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
