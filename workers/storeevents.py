"""An object store's event notifications as the objects they say were created, and the job a
recording under the watched prefix gets (``POST /hooks/store`` of the webhook service).

These shapes arrive:
  - S3 event notifications, ``{"Records": [{"eventName", "s3": {"bucket": {"name"}, "object":
    {"key", "eTag"}}}]}``: MinIO's and Ceph's webhook targets, and AWS's through SNS (below) or a
    relay. Keys come URL-encoded (``+`` for a space); AWS names the event ``ObjectCreated:Put``,
    MinIO ``s3:ObjectCreated:Put``.
  - Amazon SNS, to an HTTPS subscription: each notification an envelope ``{"Type":
    "Notification", "TopicArn", "Message"}`` whose ``Message`` is the S3 notification as a JSON
    string (with raw message delivery, the notification itself). A new subscription is first a
    ``SubscriptionConfirmation`` whose ``SubscribeURL`` must be visited (``sns_subscription``).
  - Amazon EventBridge through an API destination: ``{"source": "aws.s3", "detail-type": "Object
    Created", "detail": {"bucket": {"name"}, "object": {"key", "etag"}}}``; keys as they are.
  - SeaweedFS's filer webhook (``[notification.webhook]``), ``{"event_type", "key", "message":
    {"new_parent_path", "new_entry": {"name", "is_directory", "attributes", "extended"}}}``: every
    file the filer writes; a bucket's objects are the files under ``/buckets/<bucket>/``, keys
    as they are (not encoded). An S3 upload is a ``create``; one over an existing object an
    ``update``.

Each object carries a tag of its content (the S3 ETag, or what stands for it), so a store that
delivers the same event again (stores retry) is known by bucket, key and tag.
"""
from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlsplit

from peakclip.detectors.objects import SCHEME, split

SEAWEEDFS_BUCKETS = "/buckets/"        # where SeaweedFS's filer keeps the buckets' objects (its default)
SEAWEEDFS_CREATED = ("create", "update", "rename")   # filer events after which the entry holds new content
SEAWEEDFS_ETAG = "Seaweed-X-Amz-ETag"  # the extended attribute holding an S3 object's ETag (base64)
# Where an SNS subscription is confirmed: the service fetches a SubscribeURL on these hosts only,
# never an address a request merely names.
SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")


@dataclass(frozen=True)
class Created:
    """An object the store says was created (or written over)."""
    bucket: str
    key: str
    tag: str          # its content's ETag (or the store's stand-in): a repeated delivery has the same one

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Ignored:
    """A notification (or one record of it) that names no created object, and why."""
    what: str
    reason: str


def created_objects(data: dict) -> list[Created | Ignored]:
    """Each record of a notification (either shape) as the object created, or why it is none.
    A body in neither shape is a ValueError saying what was expected."""
    if isinstance(data.get("Records"), list):
        return [s3_record(record) for record in data["Records"]]
    if data.get("Type") == "Notification" and "TopicArn" in data:
        return created_objects(sns_message(data))
    if data.get("Type") in ("SubscriptionConfirmation", "UnsubscribeConfirmation") and "TopicArn" in data:
        return [Ignored(str(data["TopicArn"]), f"SNS {data['Type']}: no object")]
    if data.get("source") == "aws.s3" and "detail-type" in data:
        return [eventbridge_event(data)]
    if "event_type" in data and "key" in data:
        return [seaweedfs_event(data)]
    if data.get("Event") == "s3:TestEvent" or data.get("EventName") == "s3:TestEvent":
        return [Ignored("s3:TestEvent", "a test event")]
    raise ValueError("not an object store notification: expected S3 \"Records\" (or SNS's envelope of them), "
                     "EventBridge's \"detail-type\" or SeaweedFS's \"event_type\" and \"key\"")


def sns_message(envelope: dict) -> dict:
    """The notification an SNS envelope carries in ``Message`` (a JSON string)."""
    try:
        message = json.loads(str(envelope.get("Message")))
    except ValueError:
        raise ValueError(f"an SNS notification from {envelope['TopicArn']} whose Message is not JSON") from None
    if not isinstance(message, dict):
        raise ValueError(f"an SNS notification from {envelope['TopicArn']} whose Message is not a JSON object")
    return message


def sns_subscription(data: dict) -> str | None:
    """The ``SubscribeURL`` of an SNS subscription confirmation, which the service visits to start
    the notifications; None for any other body. One that is not on SNS's own HTTPS hosts
    (``sns.<region>.amazonaws.com``) is a ValueError: the service fetches no other address."""
    if data.get("Type") != "SubscriptionConfirmation" or "TopicArn" not in data:
        return None
    url = str(data.get("SubscribeURL") or "")
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.fullmatch(parts.hostname or ""):
        raise ValueError(f"an SNS subscription confirmation from {data['TopicArn']} whose SubscribeURL is not on "
                         "sns.<region>.amazonaws.com over https: not visited")
    return url


def eventbridge_event(data: dict) -> Created | Ignored:
    """One S3 event delivered by EventBridge (``detail-type`` "Object Created"; keys not encoded)."""
    kind = str(data.get("detail-type"))
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    obj = detail.get("object") or {}
    return object_event(kind, kind == "Object Created", str((detail.get("bucket") or {}).get("name") or ""),
                        str(obj.get("key") or ""), str(obj.get("etag") or obj.get("version-id") or obj.get("sequencer") or ""))


def s3_record(record) -> Created | Ignored:
    """One record of an S3 event notification (AWS, MinIO, Ceph)."""
    if not isinstance(record, dict):
        return Ignored("a record", "not an object")
    name = str(record.get("eventName") or "")
    s3 = record.get("s3") if isinstance(record.get("s3"), dict) else {}
    obj = s3.get("object") or {}
    return object_event(name, name.removeprefix("s3:").startswith("ObjectCreated:"),
                        str((s3.get("bucket") or {}).get("name") or ""), unquote_plus(str(obj.get("key") or "")),
                        str(obj.get("eTag") or obj.get("versionId") or obj.get("sequencer") or ""))


def object_event(event: str, created: bool, bucket: str, key: str, tag: str) -> Created | Ignored:
    """What an S3 event (named ``event``; ``created``: it says an object was created) says of the
    object ``bucket``/``key`` (decoded) with its content ``tag`` (ETag, version or sequencer)."""
    what = f"{SCHEME}{bucket}/{key}" if bucket and key else (event or "a record")
    if not created:
        return Ignored(what, f"{event or 'an event without a name'}: not an object created")
    if not bucket or not key:
        return Ignored(what, "a record without a bucket name and an object key")
    return Created(bucket, key, tag.strip('"'))


def seaweedfs_event(data: dict) -> Created | Ignored:
    """One event of SeaweedFS's filer webhook: the entry's new path when it holds new content."""
    kind, message = str(data.get("event_type")), data.get("message")
    entry = message.get("new_entry") if isinstance(message, dict) else None
    what = str(data.get("key"))
    if kind not in SEAWEEDFS_CREATED or not isinstance(entry, dict):
        return Ignored(what, f"{kind}: not an object created")
    if entry.get("is_directory"):
        return Ignored(what, "a folder")
    path = posixpath.join(str(message.get("new_parent_path") or posixpath.dirname(what)), str(entry.get("name") or ""))
    if not path.startswith(SEAWEEDFS_BUCKETS):
        return Ignored(path, f"not in a bucket (outside {SEAWEEDFS_BUCKETS})")
    bucket, _, key = path[len(SEAWEEDFS_BUCKETS):].partition("/")
    if not bucket or not key:
        return Ignored(path, "not an object in a bucket")
    return Created(bucket, key, seaweedfs_tag(entry))


def seaweedfs_tag(entry: dict) -> str:
    """The entry's S3 ETag (kept base64 in its extended attributes), else its MD5 as hex, else its
    modification time: what tells one content of the object from another."""
    extended = entry.get("extended") or {}
    attributes = entry.get("attributes") or {}
    try:
        if extended.get(SEAWEEDFS_ETAG):
            return base64.b64decode(extended[SEAWEEDFS_ETAG]).decode("ascii", "replace")
        if attributes.get("md5"):
            return base64.b64decode(attributes["md5"]).hex()
    except (binascii.Error, ValueError):
        pass
    return f"mtime-{attributes.get('mtime', '')}"


# ---- the job a recording gets ---------------------------------------------------------------------

@dataclass(frozen=True)
class StoreJob:
    """What a recording under the watched prefix is queued with (every path an ``s3://`` URL
    but ``out``, which may be a folder)."""
    recording: str
    beside: dict          # {"chat": url, "events": url}: the logs its naming rules name (they may not exist)
    out: str


def watched(created: Created, watch: str, suffixes: list[str]) -> str | None:
    """Why ``created`` is no recording to clip under ``watch`` (``s3://bucket/prefix``), or None."""
    bucket, prefix = split(watch)
    if created.bucket != bucket or not created.key.startswith(prefix):
        return f"not under the watched prefix {watch}"
    if not created.key.lower().endswith(tuple(s.lower() for s in suffixes)):
        return f"not a recording (a recording's name ends with {', '.join(suffixes)})"
    return None


def store_job(created: Created, watch: str, output: str, chat_rule: str | None, events_rule: str | None) -> StoreJob:
    """The job of the recording ``created``: its chat and events logs named beside it by the rules
    (``{stem}``: its name without the suffix; ``{name}``: its name), and its output under
    ``output`` at its key below the watched prefix, without the suffix (``s3://recordings/shows/
    a/show.mp4`` watched at ``s3://recordings/shows/`` writes to ``<output>/a/show``)."""
    folder, name = posixpath.split(created.key)
    stem = posixpath.splitext(name)[0]
    beside = {what: f"{SCHEME}{created.bucket}/{posixpath.join(folder, rule.format(stem=stem, name=name))}"
              for what, rule in (("chat", chat_rule), ("events", events_rule)) if rule}
    _, prefix = split(watch)
    below = posixpath.splitext(created.key[len(prefix):])[0]
    # A key may hold anything, "../" too: each part made a plain name, so a folder output stays inside.
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", part)[:120] for part in below.split("/")]
    parts = [part for part in parts if part.strip(".")] or ["recording"]
    return StoreJob(created.url, beside, output.rstrip("/") + "/" + "/".join(parts))
