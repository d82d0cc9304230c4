"""HMAC signatures of peakclip's webhooks, both directions.

``X-Peakclip-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>`` (the scheme
Mux uses): the timestamp inside the signature stops replays of old requests.
"""
from __future__ import annotations

import hashlib
import hmac
import time


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, tolerance: float, now: float | None = None) -> str | None:
    """None if ``header`` signs ``body`` within ``tolerance`` seconds; otherwise why not."""
    if not header:
        return "missing X-Peakclip-Signature"
    fields = dict(part.strip().partition("=")[::2] for part in header.split(","))
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return "malformed signature header"
    if abs((now or time.time()) - timestamp) > tolerance:
        return "stale timestamp"
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, fields.get("v1", "")):
        return "bad signature"
    return None


def verify_twitch(secret: str, message_id: str, timestamp: str, body: bytes, header: str | None) -> bool:
    """Twitch EventSub: ``sha256=`` + hex HMAC-SHA256(secret, message id + timestamp + body)."""
    expected = "sha256=" + hmac.new(secret.encode(), (message_id + timestamp).encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")
