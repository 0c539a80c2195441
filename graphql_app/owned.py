"""The only way to an owner-scoped collection: every read and write names its owner.

A document type that belongs to one user subclasses `OwnedDocument` and is served by an
`Owned` repository. The repository adds `owner_id` to every filter itself (after the
caller's conditions, so a caller cannot override it), which makes another user's document
indistinguishable from a missing one: NOT_FOUND. `tests/test_owner_scoping.py` fails if any
other module queries such a collection directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar, cast

from beanie import Document, PydanticObjectId
from pymongo import ReturnDocument

from .errors import NotFound
from .ids import object_id
from .pagination import NEWEST_FIRST, Page, after_filter, check_first, encode_cursor


class OwnedDocument(Document):
    """A document that belongs to one user. Its collection needs an index that starts with
    `owner_id` (then `created_at`, `_id` descending for pages)."""

    owner_id: PydanticObjectId


D = TypeVar("D", bound=OwnedDocument)


class Owned(Generic[D]):
    """Reads and writes of `model`'s collection, each scoped to one owner."""

    def __init__(self, model: type[D], not_found: str) -> None:
        self.model = model
        self.not_found = not_found  # the NOT_FOUND message, e.g. "Todo not found"

    @staticmethod
    def scope(owner_id: PydanticObjectId, where: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {**(where or {}), "owner_id": owner_id}

    def _one(self, owner_id: PydanticObjectId, raw_id: str) -> dict[str, Any]:
        oid = object_id(raw_id)
        if oid is None:  # a malformed id is NOT_FOUND, like an unknown one
            raise NotFound(self.not_found)
        return self.scope(owner_id, {"_id": oid})

    async def create(self, owner_id: PydanticObjectId, **fields: Any) -> D:
        document = self.model(owner_id=owner_id, **fields)
        await document.insert()
        return document

    async def get(self, owner_id: PydanticObjectId, raw_id: str) -> D:
        found = await self.model.find_one(self._one(owner_id, raw_id))
        if found is None:
            raise NotFound(self.not_found)
        return found

    async def update(
        self, owner_id: PydanticObjectId, raw_id: str, changes: Mapping[str, Any]
    ) -> D:
        """Set `changes` in one atomic update; return the document after it."""
        raw = await self.model.get_pymongo_collection().find_one_and_update(
            self._one(owner_id, raw_id),
            {"$set": dict(changes)},
            return_document=ReturnDocument.AFTER,
        )
        return self._found(raw)

    async def delete(self, owner_id: PydanticObjectId, raw_id: str) -> D:
        """Delete in one operation; return the document as it was."""
        raw = await self.model.get_pymongo_collection().find_one_and_delete(
            self._one(owner_id, raw_id)
        )
        return self._found(raw)

    async def delete_all(self, owner_id: PydanticObjectId) -> None:
        """Everything the owner has (the account is being deleted)."""
        await self.model.get_pymongo_collection().delete_many(self.scope(owner_id))

    async def page(
        self,
        owner_id: PydanticObjectId,
        first: int | None,
        after: str | None,
        where: Mapping[str, Any] | None = None,
    ) -> Page[dict[str, Any]]:
        """A newest-first page of raw documents: they were validated when written, and
        skipping a model per document keeps a page of 100 cheap."""
        limit = check_first(first)
        query = {**after_filter(after), **self.scope(owner_id, where)}
        cursor = self.model.get_pymongo_collection().find(query).sort(NEWEST_FIRST)
        docs = await cursor.limit(limit + 1).to_list(limit + 1)
        items = [(encode_cursor(doc["created_at"], doc["_id"]), doc) for doc in docs[:limit]]
        return Page(items, has_next_page=len(docs) > limit)

    async def count(
        self,
        owner_id: PydanticObjectId,
        where: Mapping[str, Any] | None = None,
    ) -> int:
        return await self.model.get_pymongo_collection().count_documents(
            self.scope(owner_id, where)
        )

    def _found(self, raw: dict[str, Any] | None) -> D:
        if raw is None:
            raise NotFound(self.not_found)
        return cast(D, self.model.model_validate(raw))
