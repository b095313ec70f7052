"""How an alias' requests are split: its version, a canary taking a share of them, a shadow seeing a copy."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Canary(BaseModel):
    version: int = Field(ge=1)
    percent: float = Field(gt=0, le=100, description="Share of the alias' requests the canary answers.")


class Shadow(BaseModel):
    version: int = Field(ge=1)


class AliasTraffic(BaseModel):
    """Where an alias sends its requests. Stored beside `aliases.json` (which stays `{alias: version}`)."""

    version: int
    canary: Canary | None = None
    shadow: Shadow | None = None

    @property
    def versions(self) -> list[int]:
        """Every version this alias' requests may reach."""
        extra = [part.version for part in (self.canary, self.shadow) if part is not None]
        return [self.version, *extra]
