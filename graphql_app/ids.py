"""Ids that arrive as text (from a client, a cursor or a token): the one ObjectId parser."""

from __future__ import annotations

from beanie import PydanticObjectId
from bson.errors import InvalidId


def object_id(raw: str) -> PydanticObjectId | None:
    """The ObjectId `raw` names, or None when it names none; the caller picks the error."""
    try:
        return PydanticObjectId(raw)
    except (InvalidId, TypeError):
        return None
