"""SAML 2.0 as Azure AD (Entra ID) speaks it to Cognito, and as Cognito checks it.

The simulated IdP's side: :class:`IdpCredentials` (an RSA key and a self-signed X.509
certificate), :func:`build_response` (a ``samlp:Response`` whose ``Assertion`` - and optionally
the response itself - is signed with RSA-SHA256 and exclusive c14n) and :func:`idp_metadata`
(the federation metadata document). Cognito's side: :func:`build_authn_request` /
:func:`encode_redirect` (the HTTP-Redirect binding), :func:`parse_metadata` and
:func:`verify_response`, which raises :class:`SamlError` carrying Cognito's ``error`` and
``error_description``.

Signatures are made and checked by ``signxml``; a verified assertion is read only from the bytes
the signature covers, so a wrapped (injected) unsigned assertion is never looked at.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

__all__ = [
    "AZURE_CLAIMS",
    "NAME_ID_FORMATS",
    "AuthnRequest",
    "IdpCredentials",
    "IdpMetadata",
    "SamlAssertion",
    "SamlError",
    "build_authn_request",
    "build_response",
    "decode_request",
    "encode_redirect",
    "idp_metadata",
    "parse_metadata",
    "sp_entity_id",
    "verify_response",
]

NS_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_METADATA = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DSIG = "http://www.w3.org/2000/09/xmldsig#"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_PASSWORD_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"  # noqa: S105 (a URI)

NameIdFormat = Literal["persistent", "emailAddress", "unspecified"]
NAME_ID_FORMATS: dict[str, str] = {
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "emailAddress": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
}

_XML_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
_MS_IDENTITY = "http://schemas.microsoft.com/identity/claims"
AZURE_CLAIMS: dict[str, str] = {
    "email": f"{_XML_CLAIMS}/emailaddress",
    "given_name": f"{_XML_CLAIMS}/givenname",
    "surname": f"{_XML_CLAIMS}/surname",
    "name": f"{_XML_CLAIMS}/name",
    "object_id": f"{_MS_IDENTITY}/objectidentifier",
    "tenant_id": f"{_MS_IDENTITY}/tenantid",
    "display_name": f"{_MS_IDENTITY}/displayname",
    "identity_provider": f"{_MS_IDENTITY}/identityprovider",
    "authn_methods": "http://schemas.microsoft.com/claims/authnmethodsreferences",
    "groups": "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    "groups_link": "http://schemas.microsoft.com/claims/groups.link",
}
"""The claim (attribute) names Azure AD puts in its SAML assertions."""

GROUPS_OVERAGE_LIMIT = 150
"""Above this many groups Azure AD sends the ``groups.link`` overage claim instead."""

_CLOCK_SKEW = 60.0
_SIGNATURE_INVALID = "Error in SAML response processing: SAML Assertion signature is invalid"
_INVALID = "Invalid SAML response received: "
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False, load_dtd=False
)


class SamlError(Exception):
    """A SAML message Cognito refuses: ``error`` and ``description`` are what it redirects with."""

    def __init__(self, description: str, error: str = "invalid_request") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def sp_entity_id(pool_id: str) -> str:
    """Cognito's SAML service provider entity id (the audience IdPs must assert)."""
    return f"urn:amazon:cognito:sp:{pool_id}"


def _instant(when: float) -> str:
    stamp = dt.datetime.fromtimestamp(when, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _parse_instant(value: str | None, what: str) -> float:
    if not value:
        raise SamlError(f"{_INVALID}{what} is missing")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1]
    if "." in text:
        whole, fraction = text.split(".", 1)
        text = f"{whole}.{fraction[:6]}"
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        raise SamlError(f"{_INVALID}{what} is not a valid instant") from None


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _default_ns(uri: str) -> Any:
    """An ``nsmap`` making ``uri`` the default namespace (as Azure AD writes its XML)."""
    return {None: uri}


def _parse(data: bytes) -> etree._Element:
    if b"<!DOCTYPE" in data.upper():
        raise SamlError(f"{_INVALID}DOCTYPE is not allowed")
    try:
        return etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError:
        raise SamlError(f"{_INVALID}the SAMLResponse is not well-formed XML") from None


# Keys and certificates ---------------------------------------------------------------------


@dataclass(frozen=True)
class IdpCredentials:
    """The IdP's signing key and its self-signed X.509 certificate (as Azure AD's "SAML
    Signing Certificate", valid for three years)."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate

    @classmethod
    def generate(
        cls,
        common_name: str = "Microsoft Azure Federated SSO Certificate",
        *,
        key: rsa.RSAPrivateKey | None = None,
    ) -> IdpCredentials:
        """A new certificate for ``key`` (a new RSA-2048 key when omitted)."""
        key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3 * 365))
            .sign(key, hashes.SHA256())
        )
        return cls(private_key=key, certificate=certificate)

    @classmethod
    def from_pem(cls, key_pem: str, certificate_pem: str | None = None) -> IdpCredentials:
        """Load a PEM private key (and its PEM certificate; a new one when omitted)."""
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the SAML signing key must be an RSA key")
        if certificate_pem is None:
            return cls.generate(key=key)
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        if certificate.public_key() != key.public_key():
            raise ValueError("the SAML signing certificate does not match the key")
        return cls(private_key=key, certificate=certificate)

    @property
    def certificate_b64(self) -> str:
        """The certificate as it appears in ``ds:X509Certificate`` (base64 DER, one line)."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()


def _load_certificate(text: str) -> x509.Certificate:
    body = "".join(
        text.replace("-----BEGIN CERTIFICATE-----", "")
        .replace("-----END CERTIFICATE-----", "")
        .split()
    )
    return x509.load_der_x509_certificate(base64.b64decode(body, validate=True))


# Metadata ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdpMetadata:
    """What Cognito takes from an IdP's metadata: entity id, SSO URLs, signing certificates."""

    entity_id: str
    sso_redirect_url: str | None
    sso_post_url: str | None
    certificates: tuple[x509.Certificate, ...]


def idp_metadata(
    *, entity_id: str, sso_url: str, credentials: IdpCredentials, logout_url: str | None = None
) -> bytes:
    """Azure AD style federation metadata: an ``EntityDescriptor`` with an ``IDPSSODescriptor``."""
    root = etree.Element(
        _q(NS_METADATA, "EntityDescriptor"),
        nsmap=_default_ns(NS_METADATA),
        ID=f"_{uuid.uuid4()}",
        entityID=entity_id,
    )
    idp = etree.SubElement(
        root, _q(NS_METADATA, "IDPSSODescriptor"), protocolSupportEnumeration=NS_PROTOCOL
    )
    key = etree.SubElement(idp, _q(NS_METADATA, "KeyDescriptor"), use="signing")
    info = etree.SubElement(key, _q(NS_DSIG, "KeyInfo"), nsmap=_default_ns(NS_DSIG))
    data = etree.SubElement(info, _q(NS_DSIG, "X509Data"))
    etree.SubElement(data, _q(NS_DSIG, "X509Certificate")).text = credentials.certificate_b64
    if logout_url:
        etree.SubElement(
            idp,
            _q(NS_METADATA, "SingleLogoutService"),
            Binding=BINDING_REDIRECT,
            Location=logout_url,
        )
    for binding in (BINDING_REDIRECT, BINDING_POST):
        etree.SubElement(
            idp, _q(NS_METADATA, "SingleSignOnService"), Binding=binding, Location=sso_url
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def parse_metadata(xml: str | bytes) -> IdpMetadata:
    """Read an IdP's metadata (an ``EntityDescriptor``, or the first one with an
    ``IDPSSODescriptor`` inside an ``EntitiesDescriptor``), e.g. Azure AD's
    ``federationmetadata.xml``. Raises :class:`ValueError` when it describes no usable IdP."""
    try:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the metadata is not well-formed XML: {exc}") from None
    ns = {"md": NS_METADATA, "ds": NS_DSIG}
    entities = (
        [root]
        if root.tag == _q(NS_METADATA, "EntityDescriptor")
        else root.findall(".//md:EntityDescriptor", ns)
    )
    for entity in entities:
        idp = entity.find("md:IDPSSODescriptor", ns)
        if idp is None:
            continue
        entity_id = entity.get("entityID")
        if not entity_id:
            raise ValueError("the metadata's EntityDescriptor has no entityID")
        certificates = tuple(
            _load_certificate(node.text or "")
            for descriptor in idp.findall("md:KeyDescriptor", ns)
            if descriptor.get("use") in (None, "signing")
            for node in descriptor.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", ns)
        )
        if not certificates:
            raise ValueError("the metadata has no signing certificate")
        locations = {
            s.get("Binding"): s.get("Location") for s in idp.findall("md:SingleSignOnService", ns)
        }
        redirect, post = locations.get(BINDING_REDIRECT), locations.get(BINDING_POST)
        if not redirect and not post:
            raise ValueError("the metadata has no SingleSignOnService")
        return IdpMetadata(
            entity_id=entity_id,
            sso_redirect_url=redirect,
            sso_post_url=post,
            certificates=certificates,
        )
    raise ValueError("the metadata has no EntityDescriptor with an IDPSSODescriptor")


# AuthnRequest (Cognito -> IdP) -------------------------------------------------------------


@dataclass(frozen=True)
class AuthnRequest:
    """What the IdP reads from Cognito's ``AuthnRequest``."""

    id: str
    issuer: str
    acs_url: str
    destination: str | None


def build_authn_request(
    *, request_id: str, sp_entity: str, acs_url: str, destination: str, now: float
) -> bytes:
    """Cognito's ``samlp:AuthnRequest`` (unsigned, POST binding requested for the response)."""
    root = etree.Element(
        _q(NS_PROTOCOL, "AuthnRequest"),
        nsmap={"saml2p": NS_PROTOCOL},
        AssertionConsumerServiceURL=acs_url,
        Destination=destination,
        ForceAuthn="false",
        ID=request_id,
        IsPassive="false",
        IssueInstant=_instant(now),
        ProtocolBinding=BINDING_POST,
        Version="2.0",
    )
    issuer = etree.SubElement(root, _q(NS_ASSERTION, "Issuer"), nsmap={"saml2": NS_ASSERTION})
    issuer.text = sp_entity
    return bytes(etree.tostring(root))


def encode_redirect(xml: bytes) -> str:
    """HTTP-Redirect binding: raw DEFLATE, then base64 (the caller URL-encodes)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml) + compressor.flush()).decode()


def decode_request(value: str) -> AuthnRequest:
    """Read a ``SAMLRequest`` of the Redirect (deflated) or POST (plain base64) binding.

    Raises :class:`ValueError` when it is not an ``AuthnRequest``.
    """
    try:
        raw = base64.b64decode(value, validate=False)
    except binascii.Error:
        raise ValueError("SAMLRequest is not base64") from None
    if not raw.lstrip().startswith(b"<"):
        try:
            raw = zlib.decompressobj(-15).decompress(raw, 1_000_000)
        except zlib.error:
            raise ValueError("SAMLRequest is neither deflated nor XML") from None
    try:
        root = etree.fromstring(raw, parser=_PARSER)
    except etree.XMLSyntaxError:
        raise ValueError("SAMLRequest is not well-formed XML") from None
    if root.tag != _q(NS_PROTOCOL, "AuthnRequest") or not root.get("ID"):
        raise ValueError("SAMLRequest is not an AuthnRequest")
    issuer = root.findtext(_q(NS_ASSERTION, "Issuer")) or ""
    return AuthnRequest(
        id=root.get("ID", ""),
        issuer=issuer.strip(),
        acs_url=root.get("AssertionConsumerServiceURL", ""),
        destination=root.get("Destination"),
    )


# Response (IdP -> Cognito) -----------------------------------------------------------------


def _signer() -> XMLSigner:
    return XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )


def _sign(element: etree._Element, element_id: str, credentials: IdpCredentials) -> etree._Element:
    signed: etree._Element = _signer().sign(
        element,
        key=credentials.private_key,
        cert=[credentials.certificate],
        reference_uri=f"#{element_id}",
        id_attribute="ID",
    )
    return signed


def _placeholder(after: etree._Element) -> None:
    """Where the signature goes: SAML's schema wants it right after ``Issuer``."""
    after.addnext(etree.Element(_q(NS_DSIG, "Signature"), Id="placeholder", nsmap={"ds": NS_DSIG}))


def build_response(
    *,
    issuer: str,
    name_id: str,
    name_id_format: str,
    audience: str,
    recipient: str,
    attributes: Mapping[str, str | Sequence[str]],
    now: float,
    credentials: IdpCredentials | None,
    in_response_to: str | None = None,
    sign_assertion: bool = True,
    sign_response: bool = False,
    lifetime: float = 3600.0,
    session_index: str | None = None,
) -> bytes:
    """An Azure AD shaped ``samlp:Response`` (XML bytes, before base64).

    A list (or tuple) value becomes one ``Attribute`` with several ``AttributeValue``s. With
    ``credentials=None`` nothing is signed (only useful to test that Cognito refuses it).
    """
    response_id, assertion_id = f"_{uuid.uuid4()}", f"_{uuid.uuid4()}"
    response = etree.Element(
        _q(NS_PROTOCOL, "Response"),
        nsmap={"samlp": NS_PROTOCOL},
        ID=response_id,
        Version="2.0",
        IssueInstant=_instant(now),
        Destination=recipient,
    )
    if in_response_to:
        response.set("InResponseTo", in_response_to)
    response_issuer = etree.SubElement(
        response, _q(NS_ASSERTION, "Issuer"), nsmap=_default_ns(NS_ASSERTION)
    )
    response_issuer.text = issuer
    status = etree.SubElement(response, _q(NS_PROTOCOL, "Status"))
    etree.SubElement(status, _q(NS_PROTOCOL, "StatusCode"), Value=STATUS_SUCCESS)

    a = NS_ASSERTION
    assertion = etree.Element(
        _q(a, "Assertion"),
        nsmap=_default_ns(a),
        ID=assertion_id,
        IssueInstant=_instant(now),
        Version="2.0",
    )
    assertion_issuer = etree.SubElement(assertion, _q(a, "Issuer"))
    assertion_issuer.text = issuer
    subject = etree.SubElement(assertion, _q(a, "Subject"))
    etree.SubElement(subject, _q(a, "NameID"), Format=name_id_format).text = name_id
    confirmation = etree.SubElement(subject, _q(a, "SubjectConfirmation"), Method=_BEARER)
    data = etree.SubElement(
        confirmation,
        _q(a, "SubjectConfirmationData"),
        NotOnOrAfter=_instant(now + 300),
        Recipient=recipient,
    )
    if in_response_to:
        data.set("InResponseTo", in_response_to)
    conditions = etree.SubElement(
        assertion,
        _q(a, "Conditions"),
        NotBefore=_instant(now - 300),
        NotOnOrAfter=_instant(now + lifetime),
    )
    restriction = etree.SubElement(conditions, _q(a, "AudienceRestriction"))
    etree.SubElement(restriction, _q(a, "Audience")).text = audience
    statement = etree.SubElement(assertion, _q(a, "AttributeStatement"))
    for name, value in attributes.items():
        attribute = etree.SubElement(statement, _q(a, "Attribute"), Name=name)
        for item in [value] if isinstance(value, str) else value:
            etree.SubElement(attribute, _q(a, "AttributeValue")).text = item
    authn = etree.SubElement(
        assertion,
        _q(a, "AuthnStatement"),
        AuthnInstant=_instant(now),
        SessionIndex=session_index or assertion_id,
    )
    context = etree.SubElement(authn, _q(a, "AuthnContext"))
    etree.SubElement(context, _q(a, "AuthnContextClassRef")).text = _PASSWORD_CLASS

    if credentials is not None and sign_assertion:
        _placeholder(assertion_issuer)
        assertion = _sign(assertion, assertion_id, credentials)
    response.append(assertion)
    if credentials is not None and sign_response:
        _placeholder(response_issuer)
        response = _sign(response, response_id, credentials)
    return bytes(etree.tostring(response))


# Cognito's checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class SamlAssertion:
    """A verified assertion: the subject and the attributes (multi-valued ones as lists)."""

    id: str
    issuer: str
    name_id: str
    name_id_format: str | None
    attributes: dict[str, str | list[str]]
    session_index: str | None


def _verified(
    element: etree._Element, certificates: Sequence[x509.Certificate], expected_id: str
) -> etree._Element:
    """The element as covered by its enveloped signature, or :class:`SamlError`."""
    config = SignatureConfiguration(
        location="./",
        signature_methods=frozenset(
            {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
        ),
    )
    for certificate in certificates:
        try:
            result = XMLVerifier().verify(
                element, x509_cert=certificate, id_attribute="ID", expect_config=config
            )
        except (InvalidSignature, InvalidDigest, InvalidCertificate, InvalidInput):
            continue
        assert not isinstance(result, list)
        signed = result.signed_xml
        if signed is not None and signed.tag == element.tag and signed.get("ID") == expected_id:
            return signed
    raise SamlError(_SIGNATURE_INVALID, "server_error")


def verify_response(
    saml_response: str,
    *,
    certificates: Sequence[x509.Certificate],
    idp_entity_id: str,
    audience: str,
    recipient: str,
    now: float,
    in_response_to: str | None,
    skew: float = _CLOCK_SKEW,
) -> SamlAssertion:
    """Check a base64 ``SAMLResponse`` as Cognito does and return its assertion.

    The response or its assertion must be signed by one of ``certificates``; the issuer must be
    ``idp_entity_id``, the audience ``audience`` (Cognito's SP entity id), the bearer
    confirmation's recipient ``recipient`` (the ACS URL); the time window is checked with
    ``skew`` seconds of tolerance. ``in_response_to`` is the AuthnRequest id for SP-initiated
    sign-in; ``None`` (IdP-initiated) requires an unsolicited response.
    """
    try:
        raw = base64.b64decode(saml_response, validate=True)
    except binascii.Error:
        raise SamlError(f"{_INVALID}Invalid base64 SAMLResponse") from None
    response = _parse(raw)
    if response.tag != _q(NS_PROTOCOL, "Response"):
        raise SamlError(f"{_INVALID}the document is not a SAML 2.0 Response")
    if response.find(_q(NS_DSIG, "Signature")) is not None:
        response = _verified(response, certificates, response.get("ID", ""))
        response_signed = True
    else:
        response_signed = False

    code = response.find(f"{_q(NS_PROTOCOL, 'Status')}/{_q(NS_PROTOCOL, 'StatusCode')}")
    if code is None or code.get("Value") != STATUS_SUCCESS:
        message = response.findtext(
            f"{_q(NS_PROTOCOL, 'Status')}/{_q(NS_PROTOCOL, 'StatusMessage')}"
        )
        detail = message or (code.get("Value") if code is not None else "no status")
        raise SamlError(f"{_INVALID}the identity provider returned an error: {detail}")
    destination = response.get("Destination")
    if destination is not None and destination != recipient:
        raise SamlError(f"{_INVALID}Destination {destination} does not match {recipient}")
    if response.find(_q(NS_ASSERTION, "EncryptedAssertion")) is not None:
        raise SamlError(f"{_INVALID}encrypted assertions are not enabled for this provider")
    assertions = response.findall(_q(NS_ASSERTION, "Assertion"))
    if len(assertions) != 1:
        raise SamlError(f"{_INVALID}expected exactly one Assertion, found {len(assertions)}")
    assertion = assertions[0]
    if assertion.find(_q(NS_DSIG, "Signature")) is not None:
        assertion = _verified(assertion, certificates, assertion.get("ID", ""))
    elif not response_signed:
        raise SamlError(_SIGNATURE_INVALID, "server_error")

    a = {"a": NS_ASSERTION}
    issuer = (assertion.findtext("a:Issuer", namespaces=a) or "").strip()
    if issuer != idp_entity_id:
        raise SamlError(
            f"{_INVALID}Issuer {issuer or '(none)'} does not match the identity "
            f"provider {idp_entity_id}"
        )
    answered = response.get("InResponseTo")
    if in_response_to is None and answered is not None:
        raise SamlError(f"{_INVALID}unsolicited response must not have InResponseTo")
    if in_response_to is not None and answered not in (None, in_response_to):
        raise SamlError(f"{_INVALID}InResponseTo {answered} does not match the request")

    conditions = assertion.find("a:Conditions", a)
    if conditions is None:
        raise SamlError(f"{_INVALID}Conditions are missing")
    not_before = conditions.get("NotBefore")
    if not_before is not None and now + skew < _parse_instant(not_before, "NotBefore"):
        raise SamlError(f"{_INVALID}the assertion is not yet valid (NotBefore {not_before})")
    not_after = conditions.get("NotOnOrAfter")
    if not_after is not None and now - skew >= _parse_instant(not_after, "NotOnOrAfter"):
        raise SamlError(f"{_INVALID}the assertion has expired (NotOnOrAfter {not_after})")
    audiences = [
        (node.text or "").strip()
        for node in conditions.findall("a:AudienceRestriction/a:Audience", a)
    ]
    if audience not in audiences:
        raise SamlError(
            f"{_INVALID}Audience {', '.join(audiences) or '(none)'} does not match {audience}"
        )

    subject = assertion.find("a:Subject", a)
    name_id = subject.find("a:NameID", a) if subject is not None else None
    if subject is None or name_id is None or not (name_id.text or "").strip():
        raise SamlError(f"{_INVALID}the assertion has no Subject NameID")
    bearer = [
        c.find("a:SubjectConfirmationData", a)
        for c in subject.findall("a:SubjectConfirmation", a)
        if c.get("Method") == _BEARER
    ]
    data = next((d for d in bearer if d is not None), None)
    if data is None:
        raise SamlError(f"{_INVALID}no bearer SubjectConfirmation")
    if data.get("Recipient") != recipient:
        raise SamlError(
            f"{_INVALID}Recipient {data.get('Recipient') or '(none)'} does not match {recipient}"
        )
    confirmed_until = data.get("NotOnOrAfter")
    if confirmed_until is not None and now - skew >= _parse_instant(
        confirmed_until, "SubjectConfirmationData NotOnOrAfter"
    ):
        raise SamlError(
            f"{_INVALID}the subject confirmation has expired (NotOnOrAfter {confirmed_until})"
        )
    confirmed_for = data.get("InResponseTo")
    if in_response_to is None and confirmed_for is not None:
        raise SamlError(f"{_INVALID}unsolicited response must not have InResponseTo")
    if in_response_to is not None and confirmed_for != in_response_to:
        raise SamlError(
            f"{_INVALID}InResponseTo {confirmed_for or '(none)'} does not match the request"
        )

    attributes: dict[str, str | list[str]] = {}
    for node in assertion.findall("a:AttributeStatement/a:Attribute", a):
        values = [(v.text or "") for v in node.findall("a:AttributeValue", a)]
        name = node.get("Name", "")
        if name and values:
            attributes[name] = values[0] if len(values) == 1 else values
    authn = assertion.find("a:AuthnStatement", a)
    return SamlAssertion(
        id=assertion.get("ID", ""),
        issuer=issuer,
        name_id=(name_id.text or "").strip(),
        name_id_format=name_id.get("Format"),
        attributes=attributes,
        session_index=authn.get("SessionIndex") if authn is not None else None,
    )
