"""A small GraphQL-over-HTTP client for tests (httpx against the live server)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.sensitive import remember_sensitive_fields


class GraphQLClient:
    def __init__(self, url: str, key: str | None = None, timeout: float = 30.0) -> None:
        headers = {"x-api-key": key} if key else {}
        self.http = httpx.AsyncClient(headers=headers, timeout=timeout)
        self.url = url

    async def __aenter__(self) -> GraphQLClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def raw(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        remember_sensitive_fields(variables)  # for the run-last log hygiene check
        if variables is not None:
            body["variables"] = variables
        return await self.http.post(self.url, json=body, headers=headers)

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The full response body; asserts HTTP 200."""
        response = await self.raw(query, variables, headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``data`` of a response that must have no top-level errors."""
        result = await self.execute(query, variables, headers)
        assert not result.get("errors"), result
        data: dict[str, Any] = result["data"]
        return data


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]
