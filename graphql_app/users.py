"""Users: creation (shared by `register` and the CLI), lookup, listing and roles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from . import validation
from .auth.passwords import hash_password
from .errors import BadUserInput, NotFound
from .ids import object_id
from .models import Role, User
from .pagination import NEWEST_FIRST, Page, after_filter, check_first, encode_cursor


def normalize_roles(roles: Sequence[Role]) -> list[Role]:
    """USER is always kept; the order is stable: [USER, ADMIN]."""
    wanted = {Role.USER, *roles}
    return [role for role in Role if role in wanted]


async def create_user(
    username: str,
    password: str,
    rounds: int,
    roles: Sequence[Role] = (),
    email: str | None = None,
) -> User:
    name = validation.username(username)
    validation.password(password)
    address = validation.email(email) if email else None
    # Hash before looking at the name, so a taken name costs the same time as a free one.
    hashed = await hash_password(password, rounds)
    user = User(username=name, password_hash=hashed, roles=normalize_roles(roles), email=address)
    try:
        await user.insert()
    except DuplicateKeyError as exc:
        raise BadUserInput(f"{_taken(exc)} is already taken") from None
    return user


def _taken(exc: DuplicateKeyError) -> str:
    """Which unique value a duplicate-key error is about."""
    return "Email" if "email" in (exc.details or {}).get("keyPattern", {}) else "Username"


async def get_by_email(email: str, *, verified: bool) -> User | None:
    where: dict[str, object] = {"email": email}
    if verified:
        where["email_verified"] = True
    return await User.find_one(where)


def parse_id(raw: str) -> PydanticObjectId:
    user_id = object_id(raw)
    if user_id is None:
        raise NotFound("User not found")
    return user_id


async def get_by_username(username: str) -> User | None:
    return await User.find_one({"username": username.lower()})


async def load_many(ids: Sequence[PydanticObjectId]) -> list[User | None]:
    """Batch function of the owner DataLoader: one query for any number of ids."""
    found = {u.id: u async for u in User.find({"_id": {"$in": list(set(ids))}})}
    return [found.get(i) for i in ids]


async def page(first: int | None, after: str | None) -> Page[User]:
    limit = check_first(first)
    raw = User.get_pymongo_collection().find(after_filter(after)).sort(NEWEST_FIRST)
    users = [User.model_validate(doc) async for doc in raw.limit(limit + 1)]
    items = [(encode_cursor(u.created_at, u.id), u) for u in users[:limit] if u.id]
    return Page(items, has_next_page=len(users) > limit)


async def count() -> int:
    return await User.get_pymongo_collection().count_documents({})


async def set_roles(user_id: str, roles: Sequence[Role]) -> User:
    user = await User.get(parse_id(user_id))
    if user is None:
        raise NotFound("User not found")
    new_roles = normalize_roles(roles)
    if Role.ADMIN in user.roles and Role.ADMIN not in new_roles:
        others = await User.find({"roles": Role.ADMIN.value, "_id": {"$ne": user.id}}).count()
        if others == 0:
            raise BadUserInput("Cannot remove the ADMIN role from the last admin")
    # A targeted update, not a save(): a whole-document write could undo a concurrent
    # logout's entry in revoked_sessions.
    raw = await User.get_pymongo_collection().find_one_and_update(
        {"_id": user.id},
        {"$set": {"roles": [role.value for role in new_roles]}},
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        raise NotFound("User not found")
    return cast(User, User.model_validate(raw))
