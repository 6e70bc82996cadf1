"""Hosted-UI branding as the classic hosted UI customization allows it: a logo and CSS limited
to Cognito's ``*-customizable`` classes, per app client with a pool-wide default.

Both are checked when the seed is loaded (:func:`load_logo`, :func:`sanitize_css`), as
``SetUICustomization`` checks them: a logo of at most 100 KB in PNG or JPEG, CSS whose rules
select only the customizable classes. The CSS that reaches the page is re-serialised from its
parsed form with ``<`` escaped, so no input can close the ``<style>`` element.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CUSTOMIZABLE_CLASSES", "LOGO_MAX_BYTES", "Branding", "load_logo", "sanitize_css"]

LOGO_MAX_BYTES = 100 * 1024
"""Cognito's limit for the hosted UI logo."""
CSS_MAX_CHARS = 131_072
"""The length limit of ``SetUICustomization``'s ``CSS`` parameter."""

CUSTOMIZABLE_CLASSES = frozenset(
    {
        "background-customizable",
        "banner-customizable",
        "errorMessage-customizable",
        "idpButton-customizable",
        "idpDescription-customizable",
        "inputField-customizable",
        "label-customizable",
        "legalText-customizable",
        "logo-customizable",
        "passwordCheck-notValid-customizable",
        "passwordCheck-valid-customizable",
        "redirect-customizable",
        "socialButton-customizable",
        "submitButton-customizable",
        "textDescription-customizable",
    }
)
"""The classes the classic hosted UI lets CSS style (the only selectors allowed)."""

_PSEUDO = frozenset({"hover", "focus", "active", "visited", "disabled"})
_SELECTOR = re.compile(r"^\.([A-Za-z-]+)(?::([a-z-]+))?$")
_DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|jpg));base64,(.*)$", re.DOTALL)
_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclass(frozen=True)
class Branding:
    """Resolved branding of one app client (or of the pool): the logo's bytes and type, and
    the sanitised CSS."""

    logo: bytes | None = None
    logo_type: str | None = None
    css: str | None = None


def load_logo(value: str) -> tuple[bytes, str]:
    """The bytes and media type of a logo given as a ``data:image/png;base64,...`` URL or a
    file path. Raises ``ValueError`` for an unreadable, oversized or non-PNG/JPEG image."""
    match = _DATA_URL.match(value.strip())
    if match is not None:
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except binascii.Error:
            raise ValueError("logo: the data URL is not valid base64") from None
    elif value.startswith("data:"):
        raise ValueError("logo: a data URL must be data:image/png or image/jpeg;base64")
    else:
        path = Path(value)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"logo: cannot read {str(path)!r}: {exc.strerror}") from None
    if len(data) > LOGO_MAX_BYTES:
        raise ValueError(f"logo: {len(data)} bytes, more than the 100 KB Cognito allows")
    for magic, media_type in _MAGIC.items():
        if data.startswith(magic):
            return data, media_type
    raise ValueError("logo: only PNG and JPEG images are allowed")


def sanitize_css(css: str) -> str:
    """Check ``css`` as Cognito does (only rules on the customizable classes) and return it
    re-serialised, safe to put inside a ``<style>`` element. Raises ``ValueError``."""
    try:
        import tinycss2
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "hosted-UI CSS needs tinycss2: pip install 'cognito-middleware[local]'"
        ) from None
    if len(css) > CSS_MAX_CHARS:
        raise ValueError(f"css: longer than {CSS_MAX_CHARS} characters")
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    out: list[str] = []
    for rule in rules:
        if rule.type == "error":
            raise ValueError(f"css: {rule.message} (line {rule.source_line})")
        if rule.type == "at-rule":
            raise ValueError(f"css: @{rule.at_keyword} is not allowed (line {rule.source_line})")
        if rule.type != "qualified-rule":
            continue
        selectors = [s.strip() for s in tinycss2.serialize(rule.prelude).split(",")]
        for selector in selectors:
            match = _SELECTOR.match(selector)
            if (
                match is None
                or match.group(1) not in CUSTOMIZABLE_CLASSES
                or (match.group(2) is not None and match.group(2) not in _PSEUDO)
            ):
                raise ValueError(
                    f"css: selector {selector!r} is not one of the customizable "
                    f"classes (line {rule.source_line})"
                )
        declarations = tinycss2.parse_declaration_list(
            rule.content, skip_comments=True, skip_whitespace=True
        )
        body: list[str] = []
        for declaration in declarations:
            if declaration.type == "error":
                raise ValueError(f"css: {declaration.message} (line {declaration.source_line})")
            if declaration.type != "declaration":
                raise ValueError(
                    f"css: nested rules are not allowed (line {declaration.source_line})"
                )
            value = tinycss2.serialize(declaration.value).strip()
            important = " !important" if declaration.important else ""
            body.append(f"{declaration.name}:{value}{important}")
        out.append(f"{', '.join(selectors)}{{{';'.join(body)}}}")
    # "<" can only occur in strings or as a stray delimiter once parsed; the escape keeps the
    # meaning in strings and makes "</style>" impossible.
    return "\n".join(out).replace("<", "\\3c ")
