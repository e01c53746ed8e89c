"""Bodies of the HTTP API's ledger answers: signed checkpoints, proofs and leaf hashes.

Hashes are lowercase hex (a checkpoint's note carries its root in base64, as C2SP has it). A
checkpoint's ``note`` is the exact signed text: a C2SP checkpoint (origin, tree size, base64
root) followed by a blank line and the server's Ed25519 signature line, verifiable with the key
``GET /api/v1/ledger/key`` serves in note-verifier form.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 hash, lowercase hex."""
Reason = Literal["stage_change", "on_demand", "export"]
"""Why a checkpoint was signed."""


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CheckpointBody(Reply):
    room: str
    origin: str
    """The checkpoint's first line: ``<key name>/room/<room id>``."""
    size: Annotated[int, Field(ge=1)]
    root: HexHash
    """The RFC 6962 root of the room's first ``size`` events."""
    note: str
    """The signed note, byte for byte (UTF-8)."""
    reason: Reason
    signed_at: str


class CheckpointList(Reply):
    checkpoints: list[CheckpointBody]
    """Every checkpoint of the room, by size."""


class InclusionProofBody(Reply):
    room: str
    seq: Annotated[int, Field(ge=1)]
    size: Annotated[int, Field(ge=1)]
    leaf_hash: HexHash
    """The event's leaf hash (leaf index ``seq - 1``)."""
    proof: list[HexHash]
    """The RFC 9162 audit path, leaf to root."""


class ConsistencyProofBody(Reply):
    room: str
    from_: Annotated[int, Field(ge=0, alias="from")]
    to: Annotated[int, Field(ge=0)]
    proof: list[HexHash]
    """The RFC 9162 consistency proof (empty when ``from`` is 0 or equals ``to``)."""


class Leaf(Reply):
    seq: Annotated[int, Field(ge=1)]
    leaf_hash: HexHash


class LeavesBody(Reply):
    room: str
    after: Annotated[int, Field(ge=0)]
    size: Annotated[int, Field(ge=0)]
    """The room's size when read."""
    frontier: list[HexHash]
    """The tree of the first ``after`` events as its perfect subtrees, largest first (one per
    set bit of ``after``): fold the leaves onto it to compute roots beyond ``after``."""
    leaves: list[Leaf]
    """Every event after ``after``, in order, as seq and leaf hash only, whatever the seat may
    see of it; at most the ``limit`` asked for."""
