"""Objects in S3 and the stores that speak its protocol (MinIO, SeaweedFS, Ceph, OSS, COS):
``s3://bucket/key`` wherever peakclip reads or writes a file.

Credentials and the endpoint come from the standard AWS settings (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, the config and credentials
files), through boto3, so an S3-compatible store is one environment variable away.

- ``readable(path)``: what ffmpeg and ffprobe open: for an object, a presigned HTTPS URL, so a
  recording is read where it lies, by range requests (seeks work), never downloaded whole.
- ``check_object``, ``download``, ``open_object``, ``upload``, ``check_bucket``: each failure (no such bucket or
  key, keys refused, store unreachable) is one ``UserError`` line naming the object, never the
  secret.
- ``remove_others``: what an earlier run left under a prefix cleared away, so the bucket holds
  what the manifest lists; ``abort_unfinished``: the parts of uploads that were cut off (a
  killed worker's, an interrupted run's) under a prefix, which a store keeps and bills otherwise.
- a store that does not answer (or answers 5xx) is a ``StoreUnreachable``: the queue retries the
  step that met it, where a missing object fails the job at once. ``check_served`` asks for one
  byte (a store starting again answers HEAD before it serves reads); ``server_failed`` reads the
  same in ffmpeg's error text.
- ``scrub(text)``: a message with the signature of a presigned URL cut out, for every line that
  may quote one (ffmpeg's errors do).
"""
from __future__ import annotations

import functools
import os
import re
import tempfile
import threading
import time

from peakclip.detectors.errors import MediaError, UserError

SCHEME = "s3://"
PRESIGN_SECONDS = 6 * 3600     # a presigned URL lives this long; a new one is made at half its life
_SIGNED = re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]*(?:Signature|X-Amz-)[^\s'\"]*")
_presigned: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def is_object(path: str | None) -> bool:
    """Whether ``path`` names an object (``s3://bucket/key``)."""
    return bool(path) and path.startswith(SCHEME)


def split(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key); a URL without a bucket is a one-line UserError."""
    bucket, _, key = url[len(SCHEME):].partition("/")
    if not bucket:
        raise UserError(f"not an object URL (s3://bucket/key): {url}")
    return bucket, key


def join(prefix: str, name: str) -> str:
    """The object ``name`` (a relative path) under the ``prefix`` URL."""
    return prefix.rstrip("/") + "/" + name


def scrub(text: str) -> str:
    """``text`` with every presigned URL's query (its key id and signature) cut out."""
    return _SIGNED.sub(r"\1?<signed>", text)


class StoreUnreachable(UserError):
    """The object store did not answer, or failed on its side (5xx): worth trying again later."""


@functools.lru_cache(maxsize=1)
def client():
    """The boto3 S3 client of the standard AWS settings (one a process; boto3's own is thread-safe)."""
    import boto3   # here: ~0.3 s to import, and only jobs that touch a bucket need it
    from botocore.config import Config as BotoConfig
    session = boto3.session.Session()
    return session.client("s3", region_name=session.region_name or "us-east-1",
                          config=BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                                            read_timeout=60))


def failure(url: str, err: Exception, what: str = "object") -> UserError:
    """A boto3/botocore failure on ``url`` as one line naming it (no secret, no presigned URL)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    if isinstance(err.__context__, (ClientError, BotoCoreError)) and not isinstance(err, (ClientError, BotoCoreError)):
        err = err.__context__   # boto3's S3UploadFailedError around the store's own answer
    if isinstance(err, NoCredentialsError):
        return UserError(f"no credentials for {url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile)")
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket",):
            return MediaError(f"no such bucket: {url}")
        if code in ("404", "NoSuchKey", "NotFound"):
            return MediaError(f"{what} not found: {url}")
        if code in ("403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden"):
            return UserError(f"the object store refused the keys for {url} ({code}): check AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY")
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return (StoreUnreachable if status >= 500 else UserError)(f"the object store failed on {url}: {code or 'error'}")
    if isinstance(err, BotoCoreError):
        return StoreUnreachable(f"cannot reach the object store for {url}: {scrub(str(err)).splitlines()[0]}")
    return UserError(f"the object store failed on {url}: {scrub(str(err))}")


def check_object(url: str, what: str = "object") -> int:
    """The size in bytes of the object at ``url``; a missing one (or bucket) is a one-line error."""
    bucket, key = split(url)
    try:
        return int(client().head_object(Bucket=bucket, Key=key)["ContentLength"])
    except Exception as err:   # noqa: BLE001 - every store failure becomes one line
        if _missing_bucket(bucket):
            raise MediaError(f"no such bucket: {url}") from None
        raise failure(url, err, what) from None


def check_served(url: str, what: str = "object") -> None:
    """That the store hands out the object's bytes, not only its size: one ranged GET of its first
    byte. A store that has just restarted answers HEAD from its filer while reads still fail on
    its side (SeaweedFS answers 500 until its volume server is back): that is ``StoreUnreachable``,
    as a store that does not answer at all is."""
    bucket, key = split(url)
    try:
        client().get_object(Bucket=bucket, Key=key, Range="bytes=0-0")["Body"].read()
    except Exception as err:   # noqa: BLE001
        if _missing_bucket(bucket):
            raise MediaError(f"no such bucket: {url}") from None
        raise failure(url, err, what) from None


def server_failed(ffmpeg_error: str) -> bool:
    """Whether ffmpeg's error text says an HTTP server answered with a 5xx (the store failed on
    its side: the read may be tried again), e.g. "Server returned 5XX Server Error reply"."""
    return "5XX Server Error" in ffmpeg_error or "HTTP error 5" in ffmpeg_error


def etag(url: str) -> str:
    """The object's entity tag (changes when its content does), e.g. for a job's fingerprint."""
    bucket, key = split(url)
    try:
        return str(client().head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
    except Exception as err:   # noqa: BLE001
        raise failure(url, err) from None


def check_bucket(url: str) -> None:
    """That the bucket of ``url`` exists and takes these keys (before any work is done for it)."""
    bucket, _ = split(url)
    if _missing_bucket(bucket):
        raise MediaError(f"no such bucket: {url}")
    try:
        client().head_bucket(Bucket=bucket)
    except Exception as err:   # noqa: BLE001
        raise failure(url, err) from None


def _missing_bucket(bucket: str) -> bool:
    """Whether the store says ``bucket`` does not exist (any other failure: not known, False)."""
    try:
        client().head_bucket(Bucket=bucket)
        return False
    except Exception as err:   # noqa: BLE001
        response = getattr(err, "response", {}) or {}
        return str(response.get("Error", {}).get("Code", "")) in ("404", "NoSuchBucket", "NotFound")


def readable(path: str) -> str:
    """``path`` as ffmpeg opens it: a file or URL as it is; an object as a presigned HTTPS URL
    (made once, and again at half its life)."""
    if not is_object(path):
        return path
    with _lock:
        made = _presigned.get(path)
        if made and time.time() - made[0] < PRESIGN_SECONDS / 2:
            return made[1]
    bucket, key = split(path)
    url = client().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                          ExpiresIn=PRESIGN_SECONDS)
    with _lock:
        _presigned[path] = (time.time(), url)
    return url


def download(url: str, local: str, what: str = "object") -> str:
    """Copy the object at ``url`` to the file ``local`` (small inputs: chat logs, rules, a
    watermark); returns ``local``."""
    bucket, key = split(url)
    check_object(url, what)
    os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
    try:
        client().download_file(bucket, key, local)
    except Exception as err:   # noqa: BLE001
        raise failure(url, err, what) from None
    return local


def open_object(url: str, what: str = "object"):
    """The object at ``url`` as a binary file open for reading (a small input: a chat or events
    log), fetched whole into an anonymous temporary file that goes when it is closed."""
    bucket, key = split(url)
    check_object(url, what)
    copy = tempfile.TemporaryFile(prefix="peakclip-object-")
    try:
        client().download_fileobj(bucket, key, copy)
    except Exception as err:   # noqa: BLE001
        copy.close()
        raise failure(url, err, what) from None
    copy.seek(0)
    return copy


def upload(local: str, url: str) -> None:
    """Put the file ``local`` at ``url`` whole (multipart past 8 MB, boto3's transfer manager):
    an object appears only once all of it is stored, never half."""
    bucket, key = split(url)
    try:
        client().upload_file(local, bucket, key)
    except Exception as err:   # noqa: BLE001
        raise failure(url, err) from None


def remove_others(prefix: str, keep: set[str]) -> list[str]:
    """Delete every object under the ``prefix`` URL whose name relative to it is not in ``keep``
    (the files an earlier run into the same prefix made that this one did not); returns their names."""
    removed = []
    try:
        for bucket, item, name in listed_under(prefix, "list_objects_v2", "Contents"):
            if name not in keep:
                client().delete_object(Bucket=bucket, Key=item["Key"])
                removed.append(name)
    except Exception as err:   # noqa: BLE001
        raise failure(prefix, err) from None
    return removed


def abort_unfinished(prefix: str) -> list[str]:
    """Abort every multipart upload still open under the ``prefix`` URL (an upload cut off by a
    killed process leaves no object, but the store keeps its parts until the upload is aborted);
    returns the keys, relative to the prefix, whose uploads were aborted."""
    aborted = []
    try:
        for bucket, upload, name in listed_under(prefix, "list_multipart_uploads", "Uploads"):
            client().abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            aborted.append(name)
    except Exception as err:   # noqa: BLE001
        raise failure(prefix, err) from None
    return aborted


def listed_under(prefix: str, listing: str, field: str):
    """(bucket, entry, its key relative to the prefix) of each entry that the paginated S3
    ``listing`` (``list_objects_v2``, ``list_multipart_uploads``) gives in its pages' ``field``
    under the ``prefix`` URL."""
    bucket, key = split(prefix)
    base = key.rstrip("/") + "/" if key else ""
    for page in client().get_paginator(listing).paginate(Bucket=bucket, Prefix=base):
        for entry in page.get(field, []):
            yield bucket, entry, entry["Key"][len(base):]
