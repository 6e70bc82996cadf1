"""A self-signed certificate for the emulator's HTTPS listener, made once and reused.

Clients that insist on ``https`` (Amplify's OAuth domain, some mobile SDKs) can trust
``local-cognito.crt`` once; it is kept in its directory and reused on every later start while
it is valid and names the host being served.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CERT_NAME", "KEY_NAME", "TLSFiles", "default_directory", "ensure_certificate"]

CERT_NAME = "local-cognito.crt"
KEY_NAME = "local-cognito.key"
_VALIDITY = datetime.timedelta(days=825)
_RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TLSFiles:
    """The certificate (PEM; trust it, e.g. ``httpx.Client(verify=str(files.certificate))``)
    and its private key."""

    certificate: Path
    key: Path


def default_directory() -> Path:
    """Where the certificate lives when no directory is given: the user's data directory."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cognito-middleware-local"


def _names(host: str) -> set[str]:
    names = {"localhost", "127.0.0.1", "::1"}
    if host and host not in ("0.0.0.0", "::"):  # noqa: S104 - names, not bound addresses
        names.add(host.strip("[]"))
    return names


def _usable(cert_path: Path, key_path: Path, names: set[str]) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key_path.stat()
    except (OSError, ValueError):
        return False
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc - _RENEW_BEFORE < now:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    present |= set(san.get_values_for_type(x509.DNSName))
    return names <= present


def ensure_certificate(
    directory: str | os.PathLike[str] | None = None, host: str = "127.0.0.1"
) -> TLSFiles:
    """The certificate and key in ``directory`` (default: :func:`default_directory`), made
    now when missing, expiring within 30 days, or not naming ``host``.

    The certificate names ``localhost``, ``127.0.0.1``, ``::1`` and ``host``.
    """
    folder = Path(directory).expanduser() if directory is not None else default_directory()
    files = TLSFiles(folder / CERT_NAME, folder / KEY_NAME)
    names = _names(host)
    if _usable(files.certificate, files.key, names):
        return files

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Local Cognito"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cognito-middleware"),
        ]
    )
    alt: list[x509.GeneralName] = []
    for name in sorted(names):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        # Its own issuer, so it is both the server's certificate and what clients trust.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        files.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _write(files.certificate, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return files


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
