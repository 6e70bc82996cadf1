"""The former error-answer helper, kept for callers that build answers from loose values.

New code builds a :class:`~cognito_middleware._refusal.Refusal` and renders it.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Scope

from ._refusal import Refusal, render

__all__ = ["error_response"]


def error_response(
    scope: Scope,
    status: int,
    error: str,
    message: str,
    *,
    detail: str | None = None,
    link: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    html_page: bool | None = None,
) -> Response:
    """``render(scope, Refusal(...))`` from the same arguments: an escaped HTML page for
    browsers, ``{"error": ..., "message": ..., "detail": ...}`` for APIs."""
    refusal = Refusal(
        status=status,
        error=error,
        message=message,
        detail=detail,
        link=link,
        headers=tuple((headers or {}).items()),
        page=html_page,
    )
    return render(scope, refusal)
