"""Session stores: encrypted cookies (default), memory, Redis."""

from __future__ import annotations

from .base import CookieSettings, SessionData, SessionStore

__all__ = ["CookieSettings", "SessionData", "SessionStore"]
