"""GraphQL input types."""

from __future__ import annotations

import strawberry
from strawberry import UNSET


@strawberry.input
class RegisterInput:
    username: str
    password: str
    email: str | None = UNSET


@strawberry.input
class CreateTodoInput:
    title: str


@strawberry.input
class UpdateTodoInput:
    title: str | None = UNSET
    done: bool | None = UNSET
