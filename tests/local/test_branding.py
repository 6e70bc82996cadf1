"""Hosted-UI branding: the client's (or the pool's) logo and CSS on the sign-in page, checked
and escaped as Cognito's classic UI customization requires."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from cognito_middleware.local import LocalCognito, Seed, SeedError, demo_seed
from cognito_middleware.local.seed import DEMO_PUBLIC_CLIENT_ID

from .helpers import authorize_url


def png(padding: int = 0) -> bytes:
    """A valid 1x1 PNG, optionally padded with a text chunk to reach a size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    text = chunk(b"tEXt", b"pad\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + text
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def data_url(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode()


def branded_seed(pool: dict[str, Any] | None = None, client: dict[str, Any] | None = None) -> Seed:
    data = demo_seed().to_dict()
    data["branding"] = pool
    data["clients"][0]["branding"] = client
    return Seed.from_dict(data)


HOSTILE_CSS = """
.background-customizable { background-color: #faf0e6; }
.submitButton-customizable:hover { background: #0b5; }
.label-customizable { font-family: "Evil</style><script>alert(1)</script>"; }
"""


async def test_client_css_and_logo_are_on_the_login_page(local_cognito_signing_keys: Any) -> None:
    logo = png()
    cognito = LocalCognito(
        branded_seed(client={"logo": data_url(logo), "css": HOSTILE_CSS}),
        signing_keys=local_cognito_signing_keys,
    )
    with cognito.serve():
        async with httpx.AsyncClient(base_url=cognito.base_url) as client:
            start = await client.get(authorize_url())
            page = await client.get(start.headers["location"])
            image = await client.get(f"/_branding/{cognito.client_id}/logo")
    html = page.text
    assert ".background-customizable{background-color:#faf0e6}" in html
    assert ".submitButton-customizable:hover{background:#0b5}" in html
    # The CSS cannot close its style element: "<" is escaped inside the string.
    assert '"Evil\\3c /style>\\3c script>alert(1)\\3c /script>"' in html
    assert "<script>alert(1)" not in html
    assert html.count("</style>") == 2
    for css_class in (
        "background-customizable",
        "label-customizable",
        "inputField-customizable",
        "submitButton-customizable",
        "idpButton-customizable",
        "textDescription-customizable",
    ):
        assert f'class="{css_class}"' in html or f' {css_class}"' in html, css_class
    assert f'<img class="logo-customizable" src="/_branding/{cognito.client_id}/logo"' in html
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png" and image.content == logo


async def test_the_client_overrides_the_pool_default(
    tmp_path: Path, local_cognito_signing_keys: Any
) -> None:
    pool_logo = tmp_path / "pool.png"
    pool_logo.write_bytes(png(10))
    seed = branded_seed(
        pool={"logo": str(pool_logo), "css": ".banner-customizable{background:navy}"},
        client={"css": ".banner-customizable{background:teal}"},
    )
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    with cognito.serve():
        async with httpx.AsyncClient(base_url=cognito.base_url) as client:
            own = await client.get((await client.get(authorize_url())).headers["location"])
            other_start = await client.get(authorize_url(client_id=DEMO_PUBLIC_CLIENT_ID))
            other = await client.get(other_start.headers["location"])
            no_logo = await client.get(f"/_branding/{cognito.client_id}/logo")
            pool_image = await client.get(f"/_branding/{DEMO_PUBLIC_CLIENT_ID}/logo")
    assert "background:teal" in own.text and "navy" not in own.text
    assert 'class="logo-customizable"' not in own.text and no_logo.status_code == 404
    assert "background:navy" in other.text and 'class="logo-customizable"' in other.text
    assert pool_image.content == pool_logo.read_bytes()


async def test_unbranded_pages_have_no_custom_style(client: httpx.AsyncClient) -> None:
    page = await client.get((await client.get(authorize_url())).headers["location"])
    assert 'id="customizable-css"' not in page.text
    assert 'class="logo-customizable"' not in page.text


@pytest.mark.parametrize(
    ("branding", "message"),
    [
        ({"logo": data_url(png(110 * 1024))}, "more than the 100 KB Cognito allows"),
        (
            {"logo": "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode()},
            "only PNG and JPEG images are allowed",
        ),
        ({"logo": "data:image/svg+xml;base64,PHN2Zz4="}, "data:image/png or image/jpeg"),
        ({"logo": "/no/such/logo.png"}, "cannot read '/no/such/logo.png'"),
        ({"css": "body { color: red }"}, "selector 'body' is not one of the customizable classes"),
        ({"css": ".label-customizable .x { color: red }"}, "is not one of the customizable"),
        ({"css": "@import url(https://evil.example/x.css);"}, "@import is not allowed"),
        ({"css": ".label-customizable{color:red}</style><script>alert(1)</script>"}, "css:"),
    ],
)
def test_bad_branding_is_a_seed_error(branding: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError) as info:
        branded_seed(client=branding)
    assert str(info.value).startswith("client '5k2j8c4m1n7q3r9s6t0v4w8x2y': branding: ")
    assert message in str(info.value)
    with pytest.raises(SeedError, match=r"^branding: "):
        branded_seed(pool=branding)


def test_a_logo_of_exactly_100_kb_is_accepted() -> None:
    image = png()
    padded = png(100 * 1024 - len(image) - 16)
    assert len(padded) == 100 * 1024
    seed = branded_seed(client={"logo": data_url(padded)})
    assert seed.clients[0].branding is not None
