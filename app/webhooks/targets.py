"""Where webhooks may point: only hosts the operator listed (MAAS_WEBHOOK_HOSTS), so that no request can make
the server call an address of its choosing (its metadata service, a database on localhost)."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.errors import Invalid


def host_names(setting: str) -> frozenset[str]:
    """MAAS_WEBHOOK_HOSTS as lowercased names; unset or empty = none."""
    return frozenset(filter(None, (name.strip().lower() for name in setting.split(","))))


def check_target(url: str, allowed: frozenset[str]) -> str:
    """`url`, when it is http(s) to an allowed host; else Invalid naming the host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"a webhook URL is http:// or https:// with a host, not {url[:100]!r}")
    if parts.username or parts.password:
        raise Invalid("a webhook URL may not carry credentials")
    if parts.hostname.lower() not in allowed:
        listed = ", ".join(sorted(allowed)) or "none (MAAS_WEBHOOK_HOSTS is unset)"
        raise Invalid(f"webhook host {parts.hostname!r} is not in MAAS_WEBHOOK_HOSTS; allowed: {listed}")
    return url
