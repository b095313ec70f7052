"""The model registry: models, versions, artifacts and aliases."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from app.api.deps import ModelCacheDep, RegistryDep
from app.api.routes.webhooks import DispatcherDep
from app.registry import ModelDetail, ModelSummary, ModelVersion
from app.registry.traffic import AliasTraffic, Canary, Shadow

router = APIRouter(prefix="/models", tags=["models"])


class AliasUpdate(BaseModel):
    version: int = Field(ge=1)
    canary: Canary | None = Field(None, description="A version answering `percent` % of the alias' requests.")
    shadow: Shadow | None = Field(None, description="A version run on a copy of the alias' requests, off their path.")


class Aliases(BaseModel):
    name: str
    aliases: dict[str, int]
    traffic: dict[str, AliasTraffic] = Field(default_factory=dict)


@router.get("", response_model=list[ModelSummary])
def read_models(registry: RegistryDep) -> list[ModelSummary]:
    """All models with their latest version and aliases."""
    return registry.list_models()


@router.get("/{name}", response_model=ModelDetail)
def read_model(name: str, registry: RegistryDep) -> ModelDetail:
    """One model with all its versions."""
    return registry.read_model(name)


@router.get("/{name}/versions/{version}", response_model=ModelVersion)
def read_version(name: str, version: int, registry: RegistryDep) -> ModelVersion:
    """One version's metadata."""
    return registry.read_version(name, version)


@router.get("/{name}/versions/{version}/artifact", response_class=FileResponse)
def read_artifact(name: str, version: int, registry: RegistryDep) -> FileResponse:
    """The version's `.keras` file."""
    path = registry.artifact_path(name, version)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{name}-{version}.keras")


@router.delete("/{name}/versions/{version}", status_code=204)
def delete_version(name: str, version: int, registry: RegistryDep, model_cache: ModelCacheDep) -> Response:
    """Delete a version for good (its number is never reused)."""
    registry.delete_version(name, version)
    model_cache.evict(name, version)
    return Response(status_code=204)


@router.put("/{name}/aliases/{alias}", response_model=Aliases)
def set_alias(
    name: str,
    alias: str,
    body: AliasUpdate,
    registry: RegistryDep,
    model_cache: ModelCacheDep,
    dispatcher: DispatcherDep,
) -> Aliases:
    """Point an alias (e.g. `production`) at a version, optionally with a canary taking a share of its requests
    and a shadow seeing a copy of them."""
    answering = [body.version] + ([body.canary.version] if body.canary else [])
    for version in answering:  # loaded and warm before traffic moves to it (a shadow loads on first use)
        model_cache.get(name, version)
    aliases = registry.set_alias(name, alias, body.version, canary=body.canary, shadow=body.shadow)
    dispatcher.emit("alias.moved", {"name": name, "alias": alias, **body.model_dump(mode="json")})
    return Aliases(name=name, aliases=aliases, traffic=registry.read_traffic(name))


@router.delete("/{name}/aliases/{alias}", response_model=Aliases)
def delete_alias(name: str, alias: str, registry: RegistryDep) -> Aliases:
    """Remove an alias (and its canary and shadow)."""
    return Aliases(name=name, aliases=registry.delete_alias(name, alias), traffic=registry.read_traffic(name))
