"""An upload's durable state, `<datasets>/<id>/upload.json`: what was declared at creation. The offset is not in
it: it is the size of the partial file, which is synced before every PATCH is answered, so the two cannot
disagree after a crash."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from app.durable import write_json_atomically

STATE = "upload.json"


class UploadState(BaseModel):
    id: str
    length: int
    format: str
    metadata: dict[str, str]
    created_at: datetime
    complete: bool = False

    def metadata_header(self) -> str:
        """Upload-Metadata as HEAD returns it: re-encoded from the parsed pairs, so nothing a client sent is echoed
        into a header unchecked."""
        return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in self.metadata.items())


def write_state(folder: Path, state: UploadState) -> None:
    write_json_atomically(folder / STATE, state.model_dump(mode="json"))


def read_state(folder: Path) -> UploadState | None:
    try:
        return UploadState.model_validate_json((folder / STATE).read_bytes())
    except FileNotFoundError:
        return None
