"""A minimal S3 stand-in for the loader benchmark: `python -m bootstrap.bench_s3_server`.

moto's server, the stand-in the tests use, spends 2.5 to 5 ms of CPU on each request in one
Python process: on a 2-core machine it competes with the loader for the cores, which S3 (whose
CPU is not yours) does not. This server answers what a load sends and nothing else, from
memory, at about 0.3 ms of CPU a request, so that the benchmark can show what the loader itself
costs over a network. It is not S3: no signature checks, no error bodies, one region.

It serves one process's lifetime: HEAD of a bucket (with its region), PUT of a bucket or an
object, GET of an object (If-Match honoured: 412 when the ETag differs, 404 when the key is
missing) and ListObjectsV2 (prefix, start-after, continuation-token, max-keys). It prints its
loopback port on a line and stops when its standard input closes.
"""

from __future__ import annotations

import bisect
import hashlib
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

REGION = "us-east-1"
LAST_MODIFIED = "2026-03-01T00:00:00.000Z"


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: set[str] = set()
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}  # -> (body, quoted ETag)
        self.keys: dict[str, list[str]] = {}  # bucket -> its keys, sorted

    def put(self, bucket: str, key: str, body: bytes) -> str:
        etag = f'"{hashlib.md5(body).hexdigest()}"'
        with self.lock:
            keys = self.keys.setdefault(bucket, [])
            if (bucket, key) not in self.objects:
                bisect.insort(keys, key)
            self.objects[bucket, key] = (body, etag)
        return etag

    def listing(self, bucket: str, prefix: str, after: str, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` keys under `prefix` after `after`, and whether more follow."""
        with self.lock:
            keys = self.keys.get(bucket, [])
            if after >= prefix:  # keys after `after` (which may be under the prefix)
                i = bisect.bisect_right(keys, after)
            else:
                i = bisect.bisect_left(keys, prefix)
            shown = []
            while i < len(keys) and keys[i].startswith(prefix) and len(shown) < limit:
                shown.append(keys[i])
                i += 1
            return shown, i < len(keys) and keys[i].startswith(prefix)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3 does
    disable_nagle_algorithm = True  # headers and body leave together, as from S3
    store: _Store

    def log_message(self, format: str, *args) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _target(self) -> tuple[str, str, dict[str, str]]:
        url = urllib.parse.urlsplit(self.path)
        bucket, _, key = url.path.lstrip("/").partition("/")
        return bucket, urllib.parse.unquote(key), dict(urllib.parse.parse_qsl(url.query))

    def do_HEAD(self) -> None:
        bucket, _, _ = self._target()
        known = bucket in self.store.buckets
        self._answer(200 if known else 404, x_amz_bucket_region=REGION)

    def do_PUT(self) -> None:
        bucket, key, _ = self._target()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not key:
            self.store.buckets.add(bucket)
            self._answer(200)
        else:
            self._answer(200, ETag=self.store.put(bucket, key, body))

    def do_GET(self) -> None:
        bucket, key, query = self._target()
        if key:
            found = self.store.objects.get((bucket, key))
            if found is None:
                self._answer(404)
            elif self.headers.get("If-Match", found[1]) != found[1]:
                self._answer(412)
            else:
                self._answer(200, found[0], ETag=found[1], Content_Type="binary/octet-stream")
            return
        prefix = query.get("prefix", "")
        after = query.get("continuation-token") or query.get("start-after", "")
        limit = min(int(query.get("max-keys", "1000")), 1000)
        shown, more = self.store.listing(bucket, prefix, after, limit)
        contents = "".join(
            f"<Contents><Key>{escape(key)}</Key><LastModified>{LAST_MODIFIED}</LastModified>"
            f"<ETag>{escape(self.store.objects[bucket, key][1])}</ETag>"
            f"<Size>{len(self.store.objects[bucket, key][0])}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for key in shown
        )
        token = ""
        if more:
            token = f"<NextContinuationToken>{escape(shown[-1])}</NextContinuationToken>"
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(shown)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
            f"<IsTruncated>{str(more).lower()}</IsTruncated>{token}{contents}</ListBucketResult>"
        )
        self._answer(200, xml.encode(), Content_Type="application/xml")


def serve() -> ThreadingHTTPServer:
    """A server on a free loopback port, answering on daemon threads."""
    handler = type("Handler", (_Handler,), {"store": _Store()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    server = serve()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
