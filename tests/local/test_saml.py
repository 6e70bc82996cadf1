"""SAML 2.0 between the simulated Azure AD and the local Cognito: building and verifying signed
XML, the AuthnRequest, federation metadata, and Cognito's error redirects over real HTTP."""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from lxml import etree

from cognito_middleware.local import LocalCognito
from cognito_middleware.local.keys import SigningKey
from cognito_middleware.local.saml import (
    AZURE_CLAIMS,
    NAME_ID_FORMATS,
    IdpCredentials,
    SamlError,
    build_authn_request,
    build_response,
    decode_request,
    encode_redirect,
    idp_metadata,
    parse_metadata,
    verify_response,
)
from cognito_middleware.local.seed import (
    DEMO_AZURE_TENANT,
    DEMO_PASSWORD,
    DEMO_POOL_ID,
    ProviderSeed,
    Seed,
    SeedError,
    demo_seed,
)
from cognito_middleware.testing import find_forms, sign_in

from .helpers import CALLBACK, authorize_url, exchange, jwt_parts, query

CAROL = "carol@contoso.example"
ISSUER = f"https://sts.windows.net/{DEMO_AZURE_TENANT}/"
AUDIENCE = f"urn:amazon:cognito:sp:{DEMO_POOL_ID}"
ACS = "https://auth.example.com/saml2/idpresponse"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "a": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
NOW = 1_780_000_000.0
GROUPS = ["5f0c3c5e-6f3a-4a8e-9d55-0f9a2d1c7e11", "a2b4c6d8-1e3f-4a5b-8c7d-9e0f1a2b3c4d"]


@pytest.fixture(scope="module")
def idp() -> IdpCredentials:
    return IdpCredentials.generate()


@pytest.fixture(scope="module")
def other_idp() -> IdpCredentials:
    return IdpCredentials.generate()


def _response(credentials: IdpCredentials | None, **overrides: object) -> str:
    options: dict[str, object] = {
        "issuer": ISSUER,
        "name_id": CAROL,
        "name_id_format": NAME_ID_FORMATS["emailAddress"],
        "audience": AUDIENCE,
        "recipient": ACS,
        "now": NOW,
        "in_response_to": "_req-1",
        "attributes": {AZURE_CLAIMS["email"]: CAROL, AZURE_CLAIMS["groups"]: GROUPS},
    }
    options.update(overrides)
    xml = build_response(credentials=credentials, **options)  # type: ignore[arg-type]
    return base64.b64encode(xml).decode()


def _verify(saml_response: str, idp: IdpCredentials, **overrides: object) -> object:
    options: dict[str, object] = {
        "certificates": [idp.certificate],
        "idp_entity_id": ISSUER,
        "audience": AUDIENCE,
        "recipient": ACS,
        "now": NOW + 5,
        "in_response_to": "_req-1",
    }
    options.update(overrides)
    return verify_response(saml_response, **options)  # type: ignore[arg-type]


def _refused(saml_response: str, idp: IdpCredentials, **overrides: object) -> SamlError:
    with pytest.raises(SamlError) as caught:
        _verify(saml_response, idp, **overrides)
    return caught.value


def _xml(saml_response: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(saml_response))


# Building and verifying ----------------------------------------------------------------------


def test_signed_assertion_has_azure_ad_shape_and_verifies(idp: IdpCredentials) -> None:
    saml_response = _response(idp)
    root = _xml(saml_response)
    assert root.tag == "{urn:oasis:names:tc:SAML:2.0:protocol}Response"
    assert root.get("InResponseTo") == "_req-1" and root.get("Destination") == ACS
    assert root.findtext("a:Issuer", namespaces=NS) == ISSUER
    assert root.find("ds:Signature", NS) is None
    [assertion] = root.findall("a:Assertion", NS)
    children = [etree.QName(child).localname for child in assertion]
    assert children == [
        "Issuer",
        "Signature",
        "Subject",
        "Conditions",
        "AttributeStatement",
        "AuthnStatement",
    ]
    signature = assertion.find("ds:Signature", NS)
    assert signature is not None
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == (  # type: ignore[union-attr]
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    assert (
        signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get(  # type: ignore[union-attr]
            "Algorithm"
        )
        == "http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    assert (
        signature.find("ds:SignedInfo/ds:Reference", NS).get(  # type: ignore[union-attr]
            "URI"
        )
        == f"#{assertion.get('ID')}"
    )
    assert (
        "".join(
            signature.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS).split()
        )
        == idp.certificate_b64
    )  # type: ignore[union-attr]
    name_id = assertion.find("a:Subject/a:NameID", NS)
    assert name_id is not None and name_id.text == CAROL
    assert name_id.get("Format") == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    data = assertion.find("a:Subject/a:SubjectConfirmation/a:SubjectConfirmationData", NS)
    assert data is not None
    assert data.get("Recipient") == ACS and data.get("InResponseTo") == "_req-1"
    assert (
        assertion.findtext("a:Conditions/a:AudienceRestriction/a:Audience", namespaces=NS)
        == AUDIENCE
    )
    groups = assertion.findall(
        f"a:AttributeStatement/a:Attribute[@Name='{AZURE_CLAIMS['groups']}']/a:AttributeValue", NS
    )
    assert [g.text for g in groups] == GROUPS

    verified = _verify(saml_response, idp)
    assert verified.name_id == CAROL  # type: ignore[attr-defined]
    assert verified.attributes == {
        AZURE_CLAIMS["email"]: CAROL,  # type: ignore[attr-defined]
        AZURE_CLAIMS["groups"]: GROUPS,
    }


@pytest.mark.parametrize(("sign_assertion", "sign_response"), [(False, True), (True, True)])
def test_signed_response_verifies(
    idp: IdpCredentials, sign_assertion: bool, sign_response: bool
) -> None:
    saml_response = _response(idp, sign_assertion=sign_assertion, sign_response=sign_response)
    root = _xml(saml_response)
    assert [etree.QName(c).localname for c in root][:3] == ["Issuer", "Signature", "Status"]
    assert (root.find("a:Assertion/ds:Signature", NS) is not None) is sign_assertion
    assert _verify(saml_response, idp).name_id == CAROL  # type: ignore[attr-defined]


def test_tampered_assertion_is_refused(idp: IdpCredentials) -> None:
    xml = base64.b64decode(_response(idp))
    forged = xml.replace(GROUPS[0].encode(), b"00000000-0000-0000-0000-00000000dead")
    error = _refused(base64.b64encode(forged).decode(), idp)
    assert (error.error, error.description) == (
        "server_error",
        "Error in SAML response processing: SAML Assertion signature is invalid",
    )


def test_signature_by_another_key_is_refused(
    idp: IdpCredentials, other_idp: IdpCredentials
) -> None:
    error = _refused(_response(other_idp), idp)
    assert error.error == "server_error"
    assert error.description.endswith("SAML Assertion signature is invalid")
    # A provider whose metadata lists several certificates (rollover) accepts any of them.
    assert _verify(_response(other_idp), idp, certificates=[idp.certificate, other_idp.certificate])


def test_missing_signature_is_refused(idp: IdpCredentials) -> None:
    error = _refused(_response(None), idp)
    assert error.error == "server_error"
    assert "SAML Assertion signature is invalid" in error.description


def test_wrapped_assertion_is_refused(idp: IdpCredentials) -> None:
    """A forged unsigned assertion next to (or instead of) the signed one is never read."""
    root = _xml(_response(idp))
    signed = root.find("a:Assertion", NS)
    assert signed is not None
    forged = etree.fromstring(etree.tostring(signed))
    forged.remove(forged.find("ds:Signature", NS))  # type: ignore[arg-type]
    forged.find("a:Subject/a:NameID", NS).text = "admin@contoso.example"  # type: ignore[union-attr]
    extensions = etree.SubElement(root, f"{{{NS['samlp']}}}Extensions")
    root.remove(signed)
    extensions.append(signed)
    root.append(forged)
    error = _refused(base64.b64encode(etree.tostring(root)).decode(), idp)
    assert "SAML Assertion signature is invalid" in error.description

    two = _xml(_response(idp))
    two.append(forged)
    error = _refused(base64.b64encode(etree.tostring(two)).decode(), idp)
    assert error.description == (
        "Invalid SAML response received: expected exactly one Assertion, found 2"
    )


def test_wrong_audience(idp: IdpCredentials) -> None:
    error = _refused(_response(idp, audience="urn:amazon:cognito:sp:eu-west-1_Other"), idp)
    assert error.error == "invalid_request"
    assert error.description == (
        "Invalid SAML response received: Audience urn:amazon:cognito:sp:eu-west-1_Other does "
        f"not match {AUDIENCE}"
    )


def test_wrong_recipient(idp: IdpCredentials) -> None:
    error = _refused(_response(idp, recipient="https://evil.example/saml2/idpresponse"), idp)
    assert error.error == "invalid_request"
    assert error.description.startswith("Invalid SAML response received: Destination ")
    error = _refused(_response(idp), idp, recipient="https://other.example/saml2/idpresponse")
    assert "does not match https://other.example/saml2/idpresponse" in error.description


def test_expired_and_not_yet_valid_assertions(idp: IdpCredentials) -> None:
    saml_response = _response(idp, lifetime=3600)
    # The bearer confirmation lasts 5 minutes, the conditions an hour; 60 s of skew either way.
    assert _verify(saml_response, idp, now=NOW + 300 + 59)
    error = _refused(saml_response, idp, now=NOW + 300 + 61)
    assert error.error == "invalid_request"
    assert "the subject confirmation has expired" in error.description
    error = _refused(saml_response, idp, now=NOW + 3600 + 61)
    assert "the assertion has expired (NotOnOrAfter " in error.description
    assert _verify(saml_response, idp, now=NOW - 300 - 59)
    error = _refused(saml_response, idp, now=NOW - 300 - 61)
    assert "the assertion is not yet valid" in error.description


def test_in_response_to(idp: IdpCredentials) -> None:
    error = _refused(_response(idp), idp, in_response_to="_req-2")
    assert error.description == (
        "Invalid SAML response received: InResponseTo _req-1 does not match the request"
    )
    unsolicited = _response(idp, in_response_to=None)
    assert _verify(unsolicited, idp, in_response_to=None)
    assert "InResponseTo (none)" in _refused(unsolicited, idp).description
    error = _refused(_response(idp), idp, in_response_to=None)
    assert "unsolicited response must not have InResponseTo" in error.description


def test_wrong_issuer_and_malformed_input(idp: IdpCredentials) -> None:
    error = _refused(_response(idp, issuer="https://sts.windows.net/other/"), idp)
    assert error.description == (
        "Invalid SAML response received: Issuer https://sts.windows.net"
        f"/other/ does not match the identity provider {ISSUER}"
    )
    assert _refused("not base64!", idp).description == (
        "Invalid SAML response received: Invalid base64 SAMLResponse"
    )
    assert "not well-formed XML" in _refused(base64.b64encode(b"<x").decode(), idp).description
    xxe = (
        b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&e;'
        b"</samlp:Response>"
    )
    assert "DOCTYPE" in _refused(base64.b64encode(xxe).decode(), idp).description


# AuthnRequest and metadata ---------------------------------------------------------------------


def test_authn_request_redirect_and_post_bindings() -> None:
    xml = build_authn_request(
        request_id="_abc",
        sp_entity=AUDIENCE,
        acs_url=ACS,
        destination="https://login.microsoftonline.com/t/saml2",
        now=NOW,
    )
    encoded = encode_redirect(xml)
    assert zlib.decompress(base64.b64decode(encoded), -15) == xml
    for value in (encoded, base64.b64encode(xml).decode()):
        request = decode_request(value)
        assert (request.id, request.issuer, request.acs_url) == ("_abc", AUDIENCE, ACS)
    with pytest.raises(ValueError, match="not an AuthnRequest"):
        decode_request(base64.b64encode(b"<foo ID='x'/>").decode())


AZURE_METADATA = """<?xml version="1.0" encoding="utf-8"?>
<EntityDescriptor ID="_f3c1" entityID="https://sts.windows.net/{tenant}/"
    xmlns="urn:oasis:names:tc:SAML:2.0:metadata">
  <RoleDescriptor xsi:type="fed:SecurityTokenServiceType"
      protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">
      <X509Data><X509Certificate>{other}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
  </RoleDescriptor>
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">
      <X509Data><X509Certificate>{cert}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="https://login.microsoftonline.com/{tenant}/saml2"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="https://login.microsoftonline.com/{tenant}/saml2"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="https://login.microsoftonline.com/{tenant}/saml2"/>
  </IDPSSODescriptor>
</EntityDescriptor>
"""


def _azure_metadata(cert: IdpCredentials, other: IdpCredentials) -> str:
    return AZURE_METADATA.format(
        tenant=DEMO_AZURE_TENANT, cert=cert.certificate_b64, other=other.certificate_b64
    )


def test_parse_azure_federation_metadata(idp: IdpCredentials, other_idp: IdpCredentials) -> None:
    metadata = parse_metadata(_azure_metadata(idp, other_idp))
    assert metadata.entity_id == ISSUER
    assert (
        metadata.sso_redirect_url == f"https://login.microsoftonline.com/{DEMO_AZURE_TENANT}/saml2"
    )
    assert metadata.certificates == (idp.certificate,)  # the WS-Fed RoleDescriptor's is not SAML's
    own = parse_metadata(idp_metadata(entity_id=ISSUER, sso_url="http://x/sso", credentials=idp))
    assert (own.entity_id, own.sso_post_url, own.certificates) == (
        ISSUER,
        "http://x/sso",
        (idp.certificate,),
    )
    with pytest.raises(ValueError, match="no EntityDescriptor with an IDPSSODescriptor"):
        parse_metadata(
            '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>'
        )


def test_seed_metadata_fields_are_validated(
    tmp_path: Path, idp: IdpCredentials, other_idp: IdpCredentials
) -> None:
    (tmp_path / "azure.xml").write_text(_azure_metadata(idp, other_idp))
    (tmp_path / "seed.json").write_text(
        '{"user_pool_id": "eu-west-1_Meta", "providers": [{"name": "Entra", "type": "SAML", '
        '"metadata_file": "azure.xml", "name_id_format": "persistent"}]}'
    )
    seed = Seed.from_file(tmp_path / "seed.json")
    assert seed.providers[0].metadata_file == str(tmp_path / "azure.xml")
    with pytest.raises(SeedError, match="give metadata_file or metadata_xml, not both"):
        Seed(
            user_pool_id="eu-west-1_Meta",
            providers=[
                ProviderSeed(name="E", type="SAML", metadata_file="a.xml", metadata_xml="<x/>")
            ],
        )
    with pytest.raises(SeedError, match="'E': metadata: the metadata has no signing"):
        Seed(
            user_pool_id="eu-west-1_Meta",
            providers=[
                ProviderSeed(
                    name="E",
                    type="SAML",
                    metadata_xml=AZURE_METADATA.replace(
                        "<X509Certificate>{cert}</X509Certificate>", ""
                    ).format(tenant="t", other="x"),
                )
            ],
        )
    with pytest.raises(SeedError, match="only apply to SAML providers"):
        Seed(
            user_pool_id="eu-west-1_Meta",
            providers=[ProviderSeed(name="O", type="OIDC", metadata_xml="<x/>")],
        )


# Over HTTP through the emulator ----------------------------------------------------------------


async def _start(client: httpx.AsyncClient) -> tuple[str, str]:
    """SP-initiated: the AuthnRequest id and the RelayState Cognito sent to the IdP."""
    start = await client.get(authorize_url(identity_provider="AzureAD"))
    params = parse_qs(urlsplit(start.headers["location"]).query)
    return decode_request(params["SAMLRequest"][0]).id, params["RelayState"][0]


async def _idp_post(client: httpx.AsyncClient, location: str) -> dict[str, str]:
    """Sign in on the simulated IdP's page; the auto-posted form's fields."""
    page = await client.get(location)
    form = find_forms(page.text)[0]
    posted = await client.post(
        form.action, data={**form.fields, "username": CAROL, "password": DEMO_PASSWORD}
    )
    saml = find_forms(posted.text)[0]
    assert saml.action.endswith("/saml2/idpresponse")
    return saml.fields


async def test_sp_initiated_sign_in_over_saml_xml(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    start = await client.get(authorize_url(identity_provider="AzureAD"))
    location = start.headers["location"]
    params = parse_qs(urlsplit(location).query)
    authn = etree.fromstring(zlib.decompress(base64.b64decode(params["SAMLRequest"][0]), -15))
    assert authn.tag == "{urn:oasis:names:tc:SAML:2.0:protocol}AuthnRequest"
    assert authn.findtext("a:Issuer", namespaces=NS) == AUDIENCE
    acs = f"{local_cognito.base_url}/saml2/idpresponse"
    assert authn.get("AssertionConsumerServiceURL") == acs
    assert authn.get("Destination") == f"{local_cognito.base_url}/_idp/AzureAD/saml2/sso"
    assert authn.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

    fields = await _idp_post(client, location)
    assert fields["RelayState"] == params["RelayState"][0]
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    assert root.get("InResponseTo") == authn.get("ID")
    assertion = root.find("a:Assertion", NS)
    assert assertion is not None and assertion.find("ds:Signature", NS) is not None
    assert assertion.findtext("a:Issuer", namespaces=NS) == ISSUER
    data = assertion.find("a:Subject/a:SubjectConfirmation/a:SubjectConfirmationData", NS)
    assert data is not None
    assert (data.get("Recipient"), data.get("InResponseTo")) == (acs, authn.get("ID"))
    claims = {
        a.get("Name"): [v.text for v in a]
        for a in assertion.iterfind("a:AttributeStatement/a:Attribute", NS)
    }
    assert claims[AZURE_CLAIMS["tenant_id"]] == [DEMO_AZURE_TENANT]
    assert claims[AZURE_CLAIMS["name"]] == [CAROL]
    assert claims[AZURE_CLAIMS["display_name"]] == ["Carol Azure"]
    assert claims[AZURE_CLAIMS["given_name"]] == ["Carol"]
    assert claims[AZURE_CLAIMS["groups"]] == GROUPS
    [object_id] = claims[AZURE_CLAIMS["object_id"]]
    assert object_id is not None and len(object_id) == 36

    back = await client.post("/saml2/idpresponse", data=fields)
    result = query(back)
    assert back.headers["location"].startswith(CALLBACK) and result["state"] == "st-123"
    id_token = jwt_parts((await exchange(client, result["code"])).json()["id_token"])[1]
    assert (id_token["given_name"], id_token["family_name"]) == ("Carol", "Azure")
    assert id_token["custom:groups"] == f"[{GROUPS[0]}, {GROUPS[1]}]"


async def test_metadata_url_serves_the_signing_certificate(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    response = await client.get("/_idp/AzureAD/federationmetadata/2007-06/federationmetadata.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    metadata = parse_metadata(response.content)
    assert metadata.entity_id == ISSUER
    assert metadata.sso_redirect_url == f"{local_cognito.base_url}/_idp/AzureAD/saml2/sso"
    start = await client.get(authorize_url(identity_provider="AzureAD"))
    fields = await _idp_post(client, start.headers["location"])
    signed = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    cert = signed.findtext(
        "a:Assertion/ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS
    )
    der = metadata.certificates[0].public_bytes(Encoding.DER)
    assert "".join((cert or "").split()) == base64.b64encode(der).decode()
    missing = await client.get("/_idp/Okta/federationmetadata/2007-06/federationmetadata.xml")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        (
            {"audience": "urn:amazon:cognito:sp:eu-west-1_Other"},
            "invalid_request",
            "Invalid SAML response received: Audience urn:amazon:cognito:sp:eu-west-1_Other "
            "does not "
            f"match {AUDIENCE}",
        ),
        (
            {"age": 7200},
            "invalid_request",
            "Invalid SAML response received: the assertion has expired (NotOnOrAfter ",
        ),
        (
            {"age": 600},
            "invalid_request",
            "Invalid SAML response received: the subject confirmation has expired",
        ),
        (
            {"recipient": "https://elsewhere.example/saml2/idpresponse"},
            "invalid_request",
            "Invalid SAML response received: Destination https://elsewhere.example/saml2/idpresponse",
        ),
        (
            {"in_response_to": "_someone-else"},
            "invalid_request",
            "Invalid SAML response received: InResponseTo _someone-else does not match the request",
        ),
        (
            {"sign": None},
            "server_error",
            "Error in SAML response processing: SAML Assertion signature is invalid",
        ),
    ],
)
async def test_cognito_refuses_bad_responses_with_an_error_redirect(
    local_cognito: LocalCognito,
    client: httpx.AsyncClient,
    change: dict[str, object],
    error: str,
    description: str,
) -> None:
    request_id, relay = await _start(client)
    provider = local_cognito.pool.providers["AzureAD"]
    credentials = local_cognito.federation.idp_credentials(provider)
    options: dict[str, object] = {
        "issuer": ISSUER,
        "name_id": CAROL,
        "name_id_format": NAME_ID_FORMATS["emailAddress"],
        "audience": AUDIENCE,
        "recipient": f"{local_cognito.base_url}/saml2/idpresponse",
        "attributes": {AZURE_CLAIMS["email"]: CAROL},
        "now": time.time(),
        "in_response_to": request_id,
        "credentials": credentials,
    }
    if "sign" in change:
        options["credentials"] = None
    options.update({k: v for k, v in change.items() if k not in ("sign", "age")})
    options["now"] = time.time() - float(change.get("age", 0))  # type: ignore[arg-type]
    xml = build_response(**options)  # type: ignore[arg-type]
    back = await client.post(
        "/saml2/idpresponse",
        data={"SAMLResponse": base64.b64encode(xml).decode(), "RelayState": relay},
    )
    assert back.status_code == 302
    assert back.headers["location"].startswith(CALLBACK + "?")
    result = query(back)
    assert result["error"] == error and result["state"] == "st-123"
    assert result["error_description"].startswith(description)
    assert local_cognito.user("azuread_carol@contoso.example") is None


async def test_signing_options_and_name_id_format(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    provider = local_cognito.pool.providers["AzureAD"]
    provider.name_id_format = "persistent"
    for signing, response_signed, assertion_signed in (
        ("response", True, False),
        ("response_and_assertion", True, True),
    ):
        provider.signing = signing  # type: ignore[assignment]
        client.cookies.clear()
        start = await client.get(authorize_url(identity_provider="AzureAD"))
        fields = await _idp_post(client, start.headers["location"])
        root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
        assert (root.find("ds:Signature", NS) is not None) is response_signed
        assert (root.find("a:Assertion/ds:Signature", NS) is not None) is assertion_signed
        assert root.find("a:Assertion/a:Subject/a:NameID", NS).get("Format") == (  # type: ignore[union-attr]
            "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
        )
        back = await client.post("/saml2/idpresponse", data=fields)
        assert "code" in query(back)


async def test_more_than_150_groups_sends_the_overage_claim(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    provider = local_cognito.pool.providers["AzureAD"]
    many = [f"00000000-0000-4000-8000-{i:012d}" for i in range(151)]
    provider.users[0].claims[AZURE_CLAIMS["groups"]] = many
    start = await client.get(authorize_url(identity_provider="AzureAD"))
    fields = await _idp_post(client, start.headers["location"])
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    names = {
        a.get("Name"): a for a in root.iterfind("a:Assertion/a:AttributeStatement/a:Attribute", NS)
    }
    assert AZURE_CLAIMS["groups"] not in names
    link = names[AZURE_CLAIMS["groups_link"]].findtext("a:AttributeValue", namespaces=NS)
    object_id = names[AZURE_CLAIMS["object_id"]].findtext("a:AttributeValue", namespaces=NS)
    assert link == (
        f"https://graph.windows.net/{DEMO_AZURE_TENANT}/users/{object_id}/getMemberObjects"
    )
    code = query(await client.post("/saml2/idpresponse", data=fields))["code"]
    id_token = jwt_parts((await exchange(client, code)).json()["id_token"])[1]
    assert "custom:groups" not in id_token

    provider.users[0].claims[AZURE_CLAIMS["groups"]] = many[:150]
    client.cookies.clear()
    again = await sign_in(client, authorize_url(identity_provider="AzureAD"), CAROL, DEMO_PASSWORD)
    id_token = jwt_parts((await exchange(client, query(again)["code"])).json()["id_token"])[1]
    assert id_token["custom:groups"].count(", ") == 149


async def test_idp_rejects_authn_requests_it_does_not_know(client: httpx.AsyncClient) -> None:
    xml = build_authn_request(
        request_id="_x",
        sp_entity="urn:amazon:cognito:sp:eu-west-1_Nope",
        acs_url=ACS,
        destination="x",
        now=time.time(),
    )
    page = await client.get(
        "/_idp/AzureAD/saml2/sso", params={"SAMLRequest": encode_redirect(xml), "RelayState": "r"}
    )
    assert page.status_code == 400
    assert "AADSTS700016: Application with identifier" in page.text
    xml = build_authn_request(
        request_id="_x", sp_entity=AUDIENCE, acs_url=ACS, destination="x", now=time.time()
    )
    page = await client.get("/_idp/AzureAD/saml2/sso", params={"SAMLRequest": encode_redirect(xml)})
    assert "AADSTS50011: The redirect URI" in page.text
    page = await client.get("/_idp/AzureAD/saml2/sso")
    assert "AADSTS750054" in page.text


@pytest.fixture
def azure_metadata_cognito(
    local_cognito_signing_keys: tuple[SigningKey, SigningKey],
    idp: IdpCredentials,
    other_idp: IdpCredentials,
) -> Iterator[LocalCognito]:
    """A pool whose AzureAD provider was set up from (real-looking) Azure AD metadata."""
    seed = demo_seed()
    provider = next(p for p in seed.providers if p.name == "AzureAD")
    provider.metadata_xml = _azure_metadata(other_idp, idp)
    cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
    with cognito.serve():
        yield cognito


async def test_provider_from_azure_metadata(azure_metadata_cognito: LocalCognito) -> None:
    """Cognito sends users to the SSO URL of the metadata and trusts only its certificate."""
    cognito = azure_metadata_cognito
    async with httpx.AsyncClient(base_url=cognito.base_url, timeout=10) as client:
        start = await client.get(authorize_url(identity_provider="AzureAD"))
        location = start.headers["location"]
        assert location.startswith(
            f"https://login.microsoftonline.com/{DEMO_AZURE_TENANT}/saml2?SAMLRequest="
        )
        params = parse_qs(urlsplit(location).query)
        authn = decode_request(params["SAMLRequest"][0])
        assert authn.destination == f"https://login.microsoftonline.com/{DEMO_AZURE_TENANT}/saml2"
        # The simulated IdP signs with its own key, not the one of the metadata.
        fields = await _idp_post(client, "/_idp/AzureAD/saml2/sso?" + urlsplit(location).query)
        back = await client.post("/saml2/idpresponse", data=fields)
        assert query(back)["error_description"] == (
            "Error in SAML response processing: SAML Assertion signature is invalid"
        )


async def test_provider_from_the_simulated_idps_own_metadata(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    """Metadata downloaded from the simulated IdP configures the provider as inline settings."""
    served = await client.get("/_idp/AzureAD/federationmetadata/2007-06/federationmetadata.xml")
    local_cognito.pool.providers["AzureAD"].metadata_xml = served.text
    start = await client.get(authorize_url(identity_provider="AzureAD"))
    assert start.headers["location"].startswith(
        f"{local_cognito.base_url}/_idp/AzureAD/saml2/sso?SAMLRequest="
    )
    response = await sign_in(
        client, authorize_url(identity_provider="AzureAD"), CAROL, DEMO_PASSWORD
    )
    assert "code" in query(response)


def test_seeded_signing_key_keeps_the_certificate_across_starts(
    local_cognito_signing_keys: tuple[SigningKey, SigningKey], idp: IdpCredentials
) -> None:
    key = idp.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    certificate = idp.certificate.public_bytes(Encoding.PEM).decode()
    seen = []
    for _ in range(2):
        seed = demo_seed()
        provider = next(p for p in seed.providers if p.name == "AzureAD")
        provider.signing_key, provider.signing_certificate = key.decode(), certificate
        cognito = LocalCognito(seed, signing_keys=local_cognito_signing_keys)
        seen.append(cognito.federation.idp_credentials(cognito.pool.providers["AzureAD"]))
    assert seen[0].certificate == seen[1].certificate == idp.certificate
    with pytest.raises(SeedError, match="signing_key: the SAML signing certificate does not"):
        Seed(
            user_pool_id="eu-west-1_Meta",
            providers=[
                ProviderSeed(
                    name="E",
                    type="SAML",
                    signing_key=key.decode(),
                    signing_certificate=IdpCredentials.generate()
                    .certificate.public_bytes(Encoding.PEM)
                    .decode(),
                )
            ],
        )


async def test_post_binding_request_and_idp_initiated_response(
    local_cognito: LocalCognito, client: httpx.AsyncClient
) -> None:
    start = await client.get(authorize_url(identity_provider="AzureAD"))
    params = parse_qs(urlsplit(start.headers["location"]).query)
    request = decode_request(params["SAMLRequest"][0])
    xml = build_authn_request(
        request_id=request.id,
        sp_entity=AUDIENCE,
        acs_url=f"{local_cognito.base_url}/saml2/idpresponse",
        destination="x",
        now=time.time(),
    )
    # HTTP-POST binding: plain base64, posted to the same SSO endpoint.
    page = await client.post(
        "/_idp/AzureAD/saml2/sso",
        data={"SAMLRequest": base64.b64encode(xml).decode(), "RelayState": params["RelayState"][0]},
    )
    assert page.status_code == 200 and "Microsoft (simulated Azure AD)" in page.text
    form = find_forms(page.text)[0]
    posted = await client.post(
        form.action, data={**form.fields, "username": CAROL, "password": DEMO_PASSWORD}
    )
    fields = find_forms(posted.text)[0].fields
    assert (
        etree.fromstring(base64.b64decode(fields["SAMLResponse"])).get("InResponseTo") == request.id
    )
    assert "code" in query(await client.post("/saml2/idpresponse", data=fields))

    client.cookies.clear()
    tile = await client.get("/_idp/AzureAD/apps")
    form = find_forms(tile.text)[0]
    assert "SAMLRequest" not in form.fields
    posted = await client.post(
        form.action, data={**form.fields, "username": CAROL, "password": DEMO_PASSWORD}
    )
    unsolicited = etree.fromstring(
        base64.b64decode(find_forms(posted.text)[0].fields["SAMLResponse"])
    )
    assert unsolicited.get("InResponseTo") is None
    data = unsolicited.find(
        "a:Assertion/a:Subject/a:SubjectConfirmation/a:SubjectConfirmationData", NS
    )
    assert data is not None and data.get("InResponseTo") is None
