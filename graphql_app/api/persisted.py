"""Persisted queries (Apollo's `extensions.persistedQuery` protocol) and trusted documents.

A request names its document by the SHA-256 of its text, with or without the text. The
manifest (PERSISTED_DOCUMENTS, Apollo's `apollo-persisted-query-manifest` format) is read,
parsed and validated once at start-up; its documents run by hash whatever APQ says. With
APQ, a text sent with its hash is remembered per process in a bounded LRU, so a miss only
costs the client one retry. With TRUSTED_DOCUMENTS_ONLY nothing outside the manifest runs,
and the refusal comes before the text is parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse

from ..errors import DomainError
from ..settings import ConfigError, Settings

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
APQ_MAX_DOCUMENTS = 1000  # texts remembered per process ...
APQ_MAX_CHARACTERS = 8 * 1024 * 1024  # ... and their total size
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(DomainError):
    """A persisted-query request refused before its document is parsed."""


class PersistedQueryNotFound(PersistedQueryError):
    code = "PERSISTED_QUERY_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")  # the message Apollo's link also knows


class PersistedQueryNotSupported(PersistedQueryError):
    code = "PERSISTED_QUERY_NOT_SUPPORTED"

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotSupported")


class PersistedQueryNotInList(PersistedQueryError):
    code = "PERSISTED_QUERY_NOT_IN_LIST"

    def __init__(self) -> None:
        super().__init__("This persisted query is not in the list of trusted documents")


class QueryNotInSafelist(PersistedQueryError):
    code = "QUERY_NOT_IN_SAFELIST"

    def __init__(self) -> None:
        super().__init__("Only trusted documents may run on this service")


class BadPersistedQuery(PersistedQueryError):
    code = "BAD_REQUEST"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ManifestOperation:
    id: str
    name: str
    type: str
    body: str


@dataclass
class PersistedDocuments:
    """The manifest's documents (by id and by the hash of their text) and the APQ cache."""

    manifest: dict[str, ManifestOperation] = field(default_factory=dict)
    apq: bool = True
    trusted_only: bool = False
    _by_text_hash: dict[str, str] = field(init=False)
    _texts: frozenset[str] = field(init=False)  # the manifest's texts: a trusted text is one
    _names: frozenset[str] = field(init=False)
    _remembered: OrderedDict[str, str] = field(init=False, default_factory=OrderedDict)
    _remembered_size: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._by_text_hash = {sha256_hex(op.body): op.body for op in self.manifest.values()}
        self._texts = frozenset(self._by_text_hash.values())
        self._names = frozenset(op.name for op in self.manifest.values())

    @property
    def operation_names(self) -> frozenset[str]:
        return self._names

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The text to run, or the refusal (a `PersistedQueryError`)."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.trusted_only and query is not None and query not in self._texts:
                raise QueryNotInSafelist
            return query
        digest = _digest(persisted)
        known = self.manifest.get(digest)
        if query is None:
            if known is not None:
                return known.body
            if self.trusted_only:
                raise PersistedQueryNotInList
            remembered = self._recall(digest) if self.apq else None
            if remembered is not None:
                return remembered
            if self.apq:
                raise PersistedQueryNotFound
            raise PersistedQueryNotInList if self.manifest else PersistedQueryNotSupported
        if known is not None and known.body == query:
            return query
        if sha256_hex(query) != digest:
            raise BadPersistedQuery("The query does not match its persisted-query hash")
        if self.trusted_only and digest not in self._by_text_hash:
            raise QueryNotInSafelist
        return query

    def remember(self, extensions: dict[str, Any] | None, query: str | None) -> None:
        """Keep a text the client sent with its (checked) hash, once it proved runnable."""
        if not self.apq or query is None or not extensions:
            return
        persisted = extensions.get("persistedQuery")
        if not isinstance(persisted, dict):
            return
        digest = str(persisted.get("sha256Hash", "")).lower()
        if digest in self.manifest or digest in self._remembered:
            return
        self._remembered[digest] = query
        self._remembered_size += len(query)
        while self._remembered and (
            len(self._remembered) > APQ_MAX_DOCUMENTS or self._remembered_size > APQ_MAX_CHARACTERS
        ):
            _, evicted = self._remembered.popitem(last=False)
            self._remembered_size -= len(evicted)

    def _recall(self, digest: str) -> str | None:
        text = self._remembered.get(digest)
        if text is not None:
            self._remembered.move_to_end(digest)
        return text


def _digest(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise BadPersistedQuery("Unsupported persisted-query version: only version 1 is known")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
        raise BadPersistedQuery("The persisted-query hash must be a hex SHA-256")
    return digest.lower()


def load_documents(settings: Settings, validate: Any) -> PersistedDocuments:
    """The settings' persisted documents; the manifest parsed and each of its documents
    checked by `validate(document) -> errors`, else a `ConfigError` naming what is wrong."""
    if settings.trusted_documents_only and settings.persisted_documents is None:
        raise ConfigError("TRUSTED_DOCUMENTS_ONLY=true needs PERSISTED_DOCUMENTS (a manifest)")
    manifest: dict[str, ManifestOperation] = {}
    if settings.persisted_documents is not None:
        manifest = read_manifest(settings.persisted_documents)
        for operation in manifest.values():
            _check(operation, validate)
    return PersistedDocuments(
        manifest,
        apq=settings.apq and not settings.trusted_documents_only,
        trusted_only=settings.trusted_documents_only,
    )


def read_manifest(path: Path) -> dict[str, ManifestOperation]:
    where = f"PERSISTED_DOCUMENTS ({path})"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{where} is not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT or raw.get("version") != 1:
        raise ConfigError(f'{where} is not a "{MANIFEST_FORMAT}" version 1 manifest')
    operations: dict[str, ManifestOperation] = {}
    for entry in raw.get("operations") or []:
        try:
            operation = ManifestOperation(
                str(entry["id"]).lower(), str(entry["name"]), str(entry["type"]), entry["body"]
            )
        except (KeyError, TypeError):
            message = f"{where}: every operation needs an id, name, type and body"
            raise ConfigError(message) from None
        if not isinstance(operation.body, str):
            raise ConfigError(f"{where}: the body of {operation.name} is not a string")
        if operation.id in operations and operations[operation.id].body != operation.body:
            raise ConfigError(f"{where}: two operations share the id of {operation.name}")
        operations[operation.id] = operation
    return operations


def _check(operation: ManifestOperation, validate: Any) -> None:
    where = f"PERSISTED_DOCUMENTS: operation {operation.name}"
    try:
        document = parse(operation.body)
    except GraphQLError as exc:
        raise ConfigError(f"{where} does not parse: {exc.message}") from None
    errors: list[GraphQLError] = validate(document)
    if errors:
        raise ConfigError(f"{where} fails validation: {errors[0].message}")
    names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    if names != [operation.name]:
        raise ConfigError(f"{where}: its body must hold exactly that one named operation")
