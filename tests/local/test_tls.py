"""The HTTPS listener: a self-signed certificate made once, reused, and verified by clients."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from cognito_middleware.local import LocalCognito, demo_seed
from cognito_middleware.local.keys import SigningKey
from cognito_middleware.local.seed import DEMO_PASSWORD, DEMO_POOL_ID
from cognito_middleware.local.tls import CERT_NAME, KEY_NAME, ensure_certificate
from cognito_middleware.testing import sign_in

from .helpers import CLI, authorize_url

DISCOVERY = f"/{DEMO_POOL_ID}/.well-known/openid-configuration"


def trusting(certificate: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate))


async def test_serves_https_that_verifies_against_the_certificate(
    tmp_path: Path, local_cognito_signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    cognito = LocalCognito(demo_seed(), signing_keys=local_cognito_signing_keys)
    with cognito.serve(tls=True, tls_dir=tmp_path) as base_url:
        assert base_url.startswith("https://127.0.0.1:")
        assert cognito.tls is not None and cognito.tls.certificate == tmp_path / CERT_NAME
        async with httpx.AsyncClient(
            base_url=base_url, verify=trusting(cognito.tls.certificate)
        ) as client:
            discovery = (await client.get(DISCOVERY)).json()
            assert discovery["issuer"] == f"{base_url}/{DEMO_POOL_ID}"
            assert discovery["token_endpoint"] == f"{base_url}/oauth2/token"
            signed_in = await sign_in(client, authorize_url(), "alice", DEMO_PASSWORD)
            assert "code=" in signed_in.headers["location"]
            # The hosted-UI session cookie is Secure over HTTPS.
            assert "secure" in signed_in.headers["set-cookie"].lower()
        async with httpx.AsyncClient(base_url=base_url) as untrusting:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.get(DISCOVERY)


def test_the_certificate_is_made_once_and_reused(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path)
    pem = first.certificate.read_bytes()
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    again = ensure_certificate(tmp_path)
    assert again == first and again.certificate.read_bytes() == pem
    # A host the certificate does not name gets a new one that names it.
    other = ensure_certificate(tmp_path, host="cognito.localhost")
    assert other.certificate.read_bytes() != pem
    renamed = x509.load_pem_x509_certificate(other.certificate.read_bytes())
    assert "cognito.localhost" in renamed.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CERT_NAME, KEY_NAME]


def test_cli_tls_next_to_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    certificate = tmp_path / CERT_NAME
    # The certificate does not exist yet; the CLI makes it before answering.
    first = CLI("--tls", "--state", str(state), verify=False)
    try:
        assert certificate.exists()
        context = trusting(certificate)
        assert first.base_url.startswith("https://127.0.0.1:")
        assert first.env["COGNITO_ISSUER"] == f"{first.base_url}/{DEMO_POOL_ID}"
        assert f"# TLS certificate (trust it): {certificate}" in first.comments
        assert httpx.get(first.base_url + DISCOVERY, verify=context).status_code == 200
        pem = certificate.read_bytes()
    finally:
        first.stop()
    with CLI("--tls", "--state", str(state), port=first.port, verify=trusting(certificate)):
        assert certificate.read_bytes() == pem
