"""The two response media types of GraphQL over HTTP, and which HTTP status each answer gets.

`application/json` (no Accept, `*/*`, or preferred): every answer that reached GraphQL is
200, errors or not -- Apollo Client's error link only sees GraphQL errors on a 2xx.
`application/graphql-response+json` (preferred by the client): the specification's statuses.
A request error (it failed before execution: parse, validation, query limits, variable
coercion; no error has a `path`) is 4xx with `errors` and no `data`; once execution started,
200 whatever errors it carries. A code in `GRAPHQL_RESPONSE_STATUS` decides the status of
any answer without data.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"

# Under application/graphql-response+json, the status of an answer without data, by the
# `extensions.code` of its errors (the first error with a listed code decides). Not listed:
# 400 for a request error, 200 once execution started. Under application/json: always 200.
GRAPHQL_RESPONSE_STATUS: dict[str, int] = {
    "SERVICE_UNAVAILABLE": 503,
    # a cache miss the client answers by sending the text: no client error
    "PERSISTED_QUERY_NOT_FOUND": 200,
    "PERSISTED_QUERY_NOT_SUPPORTED": 200,
}
REQUEST_ERROR_STATUS = 400
NOT_ACCEPTABLE = f"The response is {GRAPHQL_RESPONSE} or {JSON}: the Accept header allows neither"


def preferred(accept: str | None) -> str | None:
    """The media type to answer in, None when `accept` allows neither (RFC 9110: each type
    takes the quality of its most specific range). The higher quality wins; on a tie, the
    type named rather than matched by a wildcard, then the one listed first; JSON when
    there is no Accept header or only wildcards."""
    if not accept:
        return JSON
    ranges: dict[str, tuple[float, int]] = {}
    for position, media_range in enumerate(accept.split(",")):
        media, *parameters = (part.strip().lower() for part in media_range.split(";"))
        ranges.setdefault(media, (_quality(parameters), position))

    def rank(media_type: str) -> tuple[float, int, int]:
        for specificity, key in enumerate((media_type, "application/*", "*/*")):
            if key in ranges:
                quality, position = ranges[key]
                return quality, -specificity, -position
        return 0.0, 0, 0

    best = max((JSON, GRAPHQL_RESPONSE), key=rank)  # JSON first: it wins a full tie
    return best if rank(best)[0] > 0 else None


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def graphql_response(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status and body of a single answer under application/graphql-response+json."""
    errors = body.get("errors") or []
    if body.get("data") is not None or not errors:
        return 200, body
    request_error = not any(error.get("path") for error in errors)
    codes = [(error.get("extensions") or {}).get("code") for error in errors]
    status = next(
        (GRAPHQL_RESPONSE_STATUS[code] for code in codes if code in GRAPHQL_RESPONSE_STATUS),
        REQUEST_ERROR_STATUS if request_error else 200,
    )
    if request_error:
        body = {key: value for key, value in body.items() if key != "data"}
    return status, body
