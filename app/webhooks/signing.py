"""`Maas-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as Stripe signs its webhooks: the
timestamp inside the MAC lets a receiver refuse replays."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Maas-Signature"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is a valid signature of `body` (what a receiver checks)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    return hmac.compare_digest(signature(secret, body, int(parts["t"])), f"t={parts['t']},v1={parts['v1']}")
