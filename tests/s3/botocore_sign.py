#!/usr/bin/env python3
"""Signs S3 requests with botocore's SigV4 signer (S3SigV4Auth), for weir's SigV4 cross-check.

This script is the independent side of src/fetch/sigv4_botocore_test.cc: it imports nothing of
weir. Input on stdin is a JSON list of requests, each described the way an S3 user means it:

  {"name": ..., "method": "GET", "endpoint": "http://127.0.0.1:4568", "addressing": "path"|"virtual",
   "bucket": ..., "key": <raw key, not encoded>, "query": [[name, value], ...] (decoded),
   "headers": [[name, value], ...] (headers to send besides host, x-amz-*, authorization),
   "body_hex": <body bytes as hex>, "access_key": ..., "secret_key": ..., "session_token": ...,
   "region": ..., "amz_date": "YYYYMMDDTHHMMSSZ"}

botocore builds the URL (the key encoded as botocore's S3 serializer encodes a greedy {Key+}
label, the query with botocore's percent_encode_sequence, the bucket in the host name for
virtual-host addressing), then S3SigV4Auth signs it at amz_date. Output on stdout is a JSON list
with, per request: name, url, authorization, x_amz_date, x_amz_content_sha256,
x_amz_security_token and canonical_request (for diagnosis).
"""
import datetime as _datetime
import json
import sys
from urllib.parse import urlsplit, urlunsplit

try:
    import botocore
    import botocore.auth
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode, percent_encode_sequence
except ImportError as e:  # the C++ side reports this as a missing service
    sys.stderr.write("botocore is not installed (Debian package python3-botocore): %s\n" % e)
    sys.exit(3)


def fixed_clock(when):
    """Makes botocore's signer read `when` as the current UTC time (older botocore reads
    datetime.datetime.utcnow() through botocore.auth.datetime, newer get_current_datetime)."""

    class FixedDatetime(_datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

        @classmethod
        def now(cls, tz=None):
            return when if tz is None else when.replace(tzinfo=_datetime.timezone.utc)

    class DatetimeModule:
        datetime = FixedDatetime
        timezone = _datetime.timezone
        timedelta = _datetime.timedelta

    botocore.auth.datetime = DatetimeModule
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda *args, **kwargs: when


class RecordingS3SigV4Auth(S3SigV4Auth):
    """S3SigV4Auth that keeps the canonical request it signed."""

    last_canonical_request = ""

    def canonical_request(self, request):
        text = super().canonical_request(request)
        self.last_canonical_request = text
        return text


def build_url(case):
    parts = urlsplit(case["endpoint"])
    base_path = parts.path.rstrip("/")
    key = percent_encode(case["key"], safe="/~") if case["key"] else ""
    if case["addressing"] == "virtual":
        netloc = case["bucket"] + "." + parts.netloc
        path = base_path + "/" + key
    else:
        netloc = parts.netloc
        path = base_path + "/" + percent_encode(case["bucket"]) + ("/" + key if key else "")
    query = percent_encode_sequence([(n, v) for n, v in case["query"]])
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def sign(case):
    when = _datetime.datetime.strptime(case["amz_date"], "%Y%m%dT%H%M%SZ")
    fixed_clock(when)
    url = build_url(case)
    headers = {}
    for name, value in case["headers"]:
        headers[name] = value
    request = AWSRequest(
        method=case["method"], url=url, headers=headers, data=bytes.fromhex(case["body_hex"])
    )
    credentials = Credentials(
        case["access_key"], case["secret_key"], case.get("session_token") or None
    )
    signer = RecordingS3SigV4Auth(credentials, "s3", case["region"])
    signer.add_auth(request)
    return {
        "name": case["name"],
        "url": url,
        "authorization": request.headers.get("Authorization", ""),
        "x_amz_date": request.headers.get("X-Amz-Date", ""),
        "x_amz_content_sha256": request.headers.get("X-Amz-Content-SHA256", ""),
        "x_amz_security_token": request.headers.get("X-Amz-Security-Token", "") or "",
        "canonical_request": signer.last_canonical_request,
        "botocore_version": botocore.__version__,
    }


def main():
    cases = json.load(sys.stdin)
    json.dump([sign(c) for c in cases], sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
