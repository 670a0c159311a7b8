"""Direct GETs of small S3 objects (`s3_reader.DirectGet`): the request the S3 client would
send, the same rows as the client's reads, and the client taking over whenever a direct GET
gets anything else than the object.

moto does not check signatures, so the signature is checked here against botocore's own
request for GetObject, built by the client and stopped before it is sent (a `before-send`
handler that answers it: https://boto3.amazonaws.com/v1/documentation/api/latest/guide/events.html).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import zlib

import boto3
import botocore.auth
import botocore.compat
import botocore.config
import pytest
import s3_server
import test_loader_s3_mutants
import test_s3_reader
from botocore.awsrequest import AWSResponse
from test_loader_mutants import LINE, NAME
from test_s3_reader import awkward_bucket, contents, put_all

from bootstrap import loader, s3_reader
from bootstrap.loader import load_logs

s3_endpoint = s3_server.s3_endpoint
fake_aws = s3_server.fake_aws
bucket = test_s3_reader.bucket
stub_bucket = test_loader_s3_mutants.stub_bucket
no_backoff = test_loader_s3_mutants.no_backoff

KEYS = [
    "access/acme-web/2026-03-02-10-00-00-0A1B2C3D4E5F6A7B",
    "logs dir/ü+x=1~(a)/2026-03-02-10-00-00-0A1B2C3D4E5F6A7B",  # every kind of escaping
    "access/123456789012/eu-west-1/acme-lake/2026/03/02/2026-03-02-00-00-00-FFEE00112233AABB",
]


class _NoBody:
    def stream(self, *_, **__):
        return iter([b""])


def _client_request(client, bucket: str, key: str, etag: str):
    """The GetObject request the client signs for `key`, captured instead of sent."""
    sent = []

    def capture(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 412, {}, _NoBody())  # answered here: nothing leaves

    client.meta.events.register("before-send.s3.GetObject", capture)
    with pytest.raises(client.exceptions.ClientError):
        client.get_object(Bucket=bucket, Key=key, IfMatch=etag)
    return sent[0]


def _headers(request) -> dict[str, str]:
    return {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    ("endpoint_url", "region", "token"),
    [
        ("http://127.0.0.1:9000", "us-east-1", None),  # path style, as moto or MinIO
        (None, "us-east-1", None),  # virtual-hosted AWS endpoints
        (None, "eu-west-1", "a-session-token"),
        (None, "ap-southeast-2", None),
    ],
    ids=["custom-endpoint", "aws-us-east-1", "aws-eu-west-1-session", "aws-ap-southeast-2"],
)
def test_a_direct_get_is_the_request_the_client_signs(
    fake_aws, monkeypatch, key, endpoint_url, region, token
) -> None:
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    at = dt.datetime(2026, 3, 2, 10, 0, 7, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: at)
    session = boto3.session.Session(region_name=region)
    client = session.client("s3", endpoint_url=endpoint_url)
    etag = '"6d85920fd4de88acdb6108339817af47"'
    direct = s3_reader.DirectGet.for_bucket(client, session, "acme-logs", {"BucketRegion": region})
    assert direct is not None
    ours = direct.request(key, etag)
    theirs = _client_request(client, "acme-logs", key, etag)
    assert ours.url == theirs.url
    signed = {"authorization", "x-amz-date", "x-amz-content-sha256", "if-match"}
    signed |= {"x-amz-checksum-mode"} | ({"x-amz-security-token"} if token else set())
    signed |= {"user-agent"}  # not signed, but sent as the client sends it
    mine, client_headers = _headers(ours), _headers(theirs)
    assert {h: mine.get(h) for h in signed} == {h: client_headers.get(h) for h in signed}
    assert f"/{region}/s3/aws4_request" in mine["authorization"]


def test_no_direct_gets_where_the_bucket_is_in_another_region_or_unsigned(fake_aws) -> None:
    session = boto3.session.Session(region_name="us-east-1")
    client = session.client("s3")
    assert (
        s3_reader.DirectGet.for_bucket(client, session, "b", {"BucketRegion": "eu-west-1"}) is None
    )
    other = {"ResponseMetadata": {"HTTPHeaders": {"x-amz-bucket-region": "eu-west-1"}}}
    assert s3_reader.DirectGet.for_bucket(client, session, "b", other) is None
    sigv2 = session.client("s3", config=botocore.config.Config(signature_version="s3"))
    assert s3_reader.DirectGet.for_bucket(sigv2, session, "b", {}) is None
    assert s3_reader.DirectGet.for_bucket(client, session, "b", {}) is not None


# --- loads ---------------------------------------------------------------------------------


@pytest.fixture
def client_gets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key of every GetObject the loader's S3 client sends (a hook on the client)."""
    keys: list[str] = []
    real_init = loader._S3Source.__init__

    def counting_init(self, *args, **kwargs) -> None:
        real_init(self, *args, **kwargs)
        self.s3.meta.events.register(
            "before-parameter-build.s3.GetObject", lambda params, **_: keys.append(params["Key"])
        )

    monkeypatch.setattr(loader._S3Source, "__init__", counting_init)
    return keys


@pytest.mark.parametrize("readers", [1, 8])
def test_direct_gets_load_exactly_what_the_clients_reads_do(
    s3_endpoint, bucket, tmp_path, monkeypatch, client_gets, readers
) -> None:
    awkward_bucket(s3_endpoint, bucket)  # plain, gzip, CRLF, empty and corrupt objects
    odd = {
        f"access/odd dir ü+x=1/2026-03-02-1{i}-00-00-0A1B2C3D4E5F6A7B": f"{LINE}\n".encode()
        for i in range(3)
    }
    put_all(s3_endpoint, bucket, odd)
    url = f"s3://{bucket}/access/"
    direct = tmp_path / "direct.duckdb"
    summary = load_logs(url, str(direct), endpoint_url=s3_endpoint, readers=readers)
    assert (summary.objects, summary.failed) == (62, 1)
    # the corrupt gzip object too: a direct GET got all of its bytes, and what failed was
    # decompressing them, as it does after the client's read
    assert client_gets == []

    monkeypatch.setattr(s3_reader, "DIRECT_GET_MAX", -1)  # every object through the client
    through_client = tmp_path / "client.duckdb"
    summary = load_logs(url, str(through_client), endpoint_url=s3_endpoint, readers=readers)
    assert (summary.objects, summary.failed) == (62, 1)
    assert len(client_gets) == 63  # every log object, the corrupt one too
    loaded, expected = contents(direct), contents(through_client)
    for table in ("raw", "history"):  # load times differ; what was loaded does not
        assert [r[:3] for r in loaded[table]] == [r[:3] for r in expected[table]]
    assert loaded["batches"] == expected["batches"]


def test_objects_over_the_direct_limit_are_read_in_chunks_by_the_client(
    s3_endpoint, bucket, tmp_path, monkeypatch, client_gets
) -> None:
    small, large = f"{LINE}\n".encode(), f"{LINE}\n".encode() * 40
    monkeypatch.setattr(s3_reader, "DIRECT_GET_MAX", len(small))
    keys = [f"access/2026-03-02-10-0{i}-00-0A1B2C3D4E5F6A7B" for i in range(2)]
    put_all(s3_endpoint, bucket, {keys[0]: small, keys[1]: large})
    summary = load_logs(
        f"s3://{bucket}/access/", str(tmp_path / "x.duckdb"), endpoint_url=s3_endpoint
    )
    assert (summary.objects, summary.lines) == (2, 41)
    assert client_gets == [keys[1]]


# --- a direct GET that does not get the object ---------------------------------------------


def _direct(handler) -> bool:
    """Whether a request came as a direct GET: the client's carry an SDK invocation id."""
    return "amz-sdk-invocation-id" not in handler.headers


def _one_line_objects(stub, count: int) -> list[str]:
    """`count` objects of one log line each in the stub bucket, and their names in order."""
    names = [f"2026-03-02-10-1{i}-00-0A1B2C3D4E5F6A7B" for i in range(count)]
    stub.objects = {name: f"{LINE}\n".encode() for name in names}
    return names


@pytest.mark.parametrize(
    "refusal",
    [
        (400, b"<Error><Code>AuthorizationHeaderMalformed</Code></Error>"),
        (403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>"),
        (404, b"<Error><Code>NoSuchKey</Code></Error>"),  # as from a wrong URL
        (412, b""),
    ],
    ids=lambda refusal: str(refusal[0]),
)
def test_a_direct_get_refused_where_the_client_succeeds_hands_every_later_object_over(
    stub_bucket, tmp_path, caplog, refusal
) -> None:
    # Even a 404 or 412 is checked by the client: were a direct GET ever wrong, its "not
    # found" must not make an object look changed, or it would never be loaded.
    names = _one_line_objects(stub_bucket, 3)
    direct: list[str] = []

    def refuse_direct(handler, key: str) -> bool:
        if not _direct(handler):
            return False
        direct.append(key)
        handler._answer(*refusal)
        return True

    stub_bucket.get = refuse_direct
    with caplog.at_level(logging.INFO, logger="bootstrap.loader"):
        summary = test_loader_s3_mutants._load(stub_bucket, tmp_path, readers=1)
    assert (summary.objects, summary.lines, summary.failed) == (3, 3, 0)
    assert direct == [names[0]]  # one direct GET refused; the client read all three
    assert [k for kind, k in stub_bucket.requests if kind == "GET"] == [names[0], *names]
    message = f"a direct GET failed (HTTP {refusal[0]}) where the S3 client's succeeded"
    assert any(message in r.getMessage() for r in caplog.records)


def test_direct_gets_that_fail_three_times_in_a_row_hand_every_later_object_over(
    stub_bucket, no_backoff, tmp_path, caplog
) -> None:
    names = _one_line_objects(stub_bucket, 6)
    gets: list[tuple[str, bool]] = []

    def fail_direct(handler, key: str) -> bool:
        gets.append((key, _direct(handler)))
        if _direct(handler) and key != names[1]:
            handler.close_connection = True  # no answer at all
            return True
        return False

    stub_bucket.get = fail_direct
    with caplog.at_level(logging.INFO, logger="bootstrap.loader"):
        summary = test_loader_s3_mutants._load(stub_bucket, tmp_path, readers=1)
    assert (summary.objects, summary.lines, summary.failed) == (6, 6, 0)
    # the direct GET of names[1] succeeds, so only names[2], [3] and [4] make three in a row
    direct = [key for key, was_direct in gets if was_direct]
    assert direct == names[:5]
    assert [key for key, was_direct in gets if not was_direct] == [
        names[0],
        names[2],
        names[3],
        names[4],
        names[5],
    ]
    message = "a direct GET failed (no answer) where the S3 client's succeeded"
    assert sum(message in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("status", [500, 502])
def test_a_direct_get_that_fails_on_the_server_is_retried_by_the_client_only_for_that_object(
    stub_bucket, no_backoff, tmp_path, status
) -> None:
    names = _one_line_objects(stub_bucket, 3)
    gets: list[tuple[str, bool]] = []

    def fail_first(handler, key: str) -> bool:
        gets.append((key, _direct(handler)))
        if len(gets) == 1:
            handler._answer(status)
            return True
        return False

    stub_bucket.get = fail_first
    summary = test_loader_s3_mutants._load(stub_bucket, tmp_path, readers=1)
    assert (summary.objects, summary.lines, summary.failed) == (3, 3, 0)
    assert gets == [(names[0], True), (names[0], False), (names[1], True), (names[2], True)]


def test_a_slow_down_hands_every_later_object_to_the_client_which_backs_off(
    stub_bucket, no_backoff, tmp_path
) -> None:
    names = _one_line_objects(stub_bucket, 3)
    gets: list[tuple[str, bool]] = []

    def slow_down_first(handler, key: str) -> bool:
        gets.append((key, _direct(handler)))
        if len(gets) <= 2:  # the direct GET, then the client's first attempt
            handler._answer(503, b"<Error><Code>SlowDown</Code></Error>")
            return True
        return False

    stub_bucket.get = slow_down_first
    summary = test_loader_s3_mutants._load(stub_bucket, tmp_path, readers=1)
    assert (summary.objects, summary.lines, summary.failed) == (3, 3, 0)
    assert gets == [(names[0], True)] + [(names[0], False)] * 2 + [(n, False) for n in names[1:]]
    assert len(no_backoff) == 1  # the client waited before its second attempt


@pytest.mark.parametrize(
    "answer",
    [
        lambda h, key: h._answer(200, b"x" * 7, ETag=h.etag(key)),  # not the listed size
        lambda h, key: h._answer(200, h.objects[key], ETag='"another-version"'),
    ],
    ids=["size", "etag"],
)
def test_a_direct_get_of_something_else_than_the_listed_object_is_read_by_the_client(
    stub_bucket, tmp_path, answer
) -> None:
    # as from a store that ignores If-Match
    stub_bucket.objects = {NAME: f"{LINE}\n".encode()}
    gets: list[bool] = []

    def other(handler, key: str) -> bool:
        gets.append(_direct(handler))
        if _direct(handler):
            answer(handler, key)
            return True
        return False

    stub_bucket.get = other
    summary = test_loader_s3_mutants._load(stub_bucket, tmp_path, readers=1)
    assert (summary.objects, summary.lines, summary.failed) == (1, 1, 0)
    assert gets == [True, False]


@pytest.mark.parametrize(
    ("gone", "code"),
    [
        (
            lambda h: h._answer(412, b"<Error><Code>PreconditionFailed</Code></Error>"),
            "PreconditionFailed",
        ),
        (lambda h: h._answer(404), "404"),
    ],
    ids=["changed", "deleted-without-a-body"],
)
def test_an_object_changed_since_the_listing_is_left_for_the_next_run_as_the_client_says(
    stub_bucket, tmp_path, caplog, gone, code
) -> None:
    stub_bucket.objects = {NAME: f"{LINE}\n".encode()}

    def answer(handler, key: str) -> bool:
        gone(handler)
        return True

    stub_bucket.get = answer
    summary = test_loader_s3_mutants._load(stub_bucket, tmp_path, readers=1)
    reason = f"changed or deleted since it was listed ({code})"
    assert (summary.objects, summary.failed, summary.failures) == (0, 1, [(NAME, reason)])
    assert [kind for kind, _ in stub_bucket.requests].count("GET") == 2  # direct, the client


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _crc32(body: bytes) -> str:
    return _b64(zlib.crc32(body).to_bytes(4, "big"))


@pytest.mark.parametrize(
    ("algorithm", "checksum", "crt", "client_reads"),
    [
        ("crc32", _crc32, False, False),
        ("crc32", lambda body: _crc32(body + b"!"), False, True),
        ("crc32", lambda body: _crc32(body + b"!") + "-3", False, False),  # of parts
        ("sha256", lambda body: _b64(hashlib.sha256(body).digest()), False, False),
        ("sha512", lambda body: _b64(hashlib.sha512(body + b"!").digest()), False, True),
        ("sha1", lambda body: _b64(hashlib.sha1(body + b"!").digest()), False, True),
        # botocore checks CRC64NVME (S3's default) only with the AWS CRT: so does this path
        ("crc64nvme", lambda body: "AAAAAAAAAAA=", False, False),
        ("crc64nvme", lambda body: "AAAAAAAAAAA=", True, True),
    ],
    ids=[
        "crc32",
        "crc32-wrong",
        "crc32-of-parts",
        "sha256",
        "sha512-wrong",
        "sha1-wrong",
        "crc64nvme-without-crt",
        "crc64nvme-with-crt",
    ],
)
def test_a_direct_get_checks_the_objects_checksum_as_the_client_does(
    stub_bucket, tmp_path, monkeypatch, algorithm, checksum, crt, client_reads
) -> None:
    monkeypatch.setattr(botocore.compat, "HAS_CRT", crt)
    body = f"{LINE}\n".encode()
    stub_bucket.objects = {NAME: body}
    direct: list[bool] = []

    def with_checksum(handler, key: str) -> bool:
        direct.append(_direct(handler))
        if not _direct(handler):
            return False  # the client: as usual, without a checksum
        headers = {f"x_amz_checksum_{algorithm}": checksum(body), "x_amz_checksum_type": "X"}
        handler._answer(200, body, ETag=handler.etag(key), **headers)
        return True

    stub_bucket.get = with_checksum
    summary = test_loader_s3_mutants._load(stub_bucket, tmp_path, readers=1)
    assert (summary.objects, summary.lines) == (1, 1)
    assert direct == ([True, False] if client_reads else [True])


# --- listings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-01T00:00:00.000Z",  # S3's form
        "2026-03-01T23:59:59.999Z",
        "2026-03-01T00:00:00Z",
        "2026-03-01T00:00:00+02:00",
        "Sun, 06 Dec 2026 19:37:24 GMT",
        1700000000,
        "2026-13-01T00:00:00Z",  # invalid: the same error
    ],
)
def test_listing_times_parse_as_botocore_parses_them(value) -> None:
    from botocore.utils import parse_timestamp

    def parsed(parse):
        try:
            return parse(value)
        except ValueError as error:
            return str(error)

    ours, theirs = parsed(s3_reader.parse_timestamp), parsed(parse_timestamp)
    assert ours == theirs
    assert not isinstance(ours, dt.datetime) or ours.utcoffset() == theirs.utcoffset()


def test_the_loaders_client_parses_listing_times_with_the_fast_parser(
    s3_endpoint, bucket, tmp_path, monkeypatch
) -> None:
    keys = [f"access/2026-03-02-10-0{i}-00-0A1B2C3D4E5F6A7B" for i in range(3)]
    put_all(s3_endpoint, bucket, {key: f"{LINE}\n".encode() for key in keys})
    seen: list[str] = []
    real = s3_reader.parse_timestamp
    monkeypatch.setattr(s3_reader, "parse_timestamp", lambda v: seen.append(v) or real(v))
    db = tmp_path / "x.duckdb"
    summary = load_logs(f"s3://{bucket}/access/", str(db), endpoint_url=s3_endpoint)
    assert summary.objects == 3
    assert len(seen) == 3 and all(v.endswith("Z") for v in seen)  # S3's form, one per object
    sql = "select distinct file_last_modified from main.s3_access_logs_raw"
    expected = {real(v).astimezone(dt.timezone.utc).replace(tzinfo=None) for v in seen}
    times = test_s3_reader.rows(db, sql)
    assert {t for (t,) in times} == expected
