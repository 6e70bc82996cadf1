"""A real headless Chromium signs in through the emulator's pages."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cognito_middleware.local import LocalCognito
from cognito_middleware.local.seed import DEMO_CLIENT_ID, DEMO_PASSWORD
from cognito_middleware.local.server import background_server

from .helpers import authorize_url

pytestmark = pytest.mark.browser

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _callback(request: Request) -> HTMLResponse:
    return HTMLResponse(f"<h1 id='done'>callback</h1><p>{len(request.query_params)}</p>")


@pytest.fixture
def app_url(local_cognito: LocalCognito) -> Iterator[str]:
    """A stand-in app that only receives the callback."""
    app = Starlette(routes=[Route("/auth/callback", _callback)])
    with background_server(app) as (host, port):
        url = f"http://{host}:{port}"
        local_cognito.register_callback(DEMO_CLIENT_ID, f"{url}/auth/callback", f"{url}/")
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    missing = not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER))
    if missing:
        if os.environ.get("CI"):
            pytest.fail("chromium/chromedriver are required in CI")
        pytest.skip("chromium is not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cognito-browser-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={profile}",
        "--window-size=1000,800",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _screenshot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"local-{name}.png"))


def _wait_for_callback(driver: Any, app_url: str) -> dict[str, list[str]]:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(lambda d: d.current_url.startswith(app_url))
    return parse_qs(urlsplit(driver.current_url).query)


def _fill(driver: Any, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    button = driver.find_element(By.CSS_SELECTOR, "button[type=submit]")
    button.click()
    # click() returns before the next page has loaded: wait until this one is gone.
    WebDriverWait(driver, 15).until(_gone(button))


def _gone(element: Any) -> Any:
    """A wait condition: ``element``'s page has been replaced. While the new page loads,
    Chromium may report a vanishing node with any WebDriverException, not only a stale one."""
    from selenium.common.exceptions import WebDriverException

    def gone(driver: Any) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    return gone


def test_sign_in_through_the_hosted_ui(
    local_cognito: LocalCognito, app_url: str, browser: Any
) -> None:
    url = local_cognito.base_url + authorize_url(redirect_uri=f"{app_url}/auth/callback")
    browser.get(url)
    assert "/login?" in browser.current_url
    _fill(browser, "alice", "wrong-password")
    assert "Incorrect username or password." in browser.page_source
    _screenshot(browser, "hosted-ui-wrong-password")
    browser.find_element("name", "username").clear()
    _fill(browser, "alice", DEMO_PASSWORD)
    params = _wait_for_callback(browser, app_url)
    assert params["state"] == ["st-123"] and len(params["code"][0]) == 36
    assert local_cognito.hosted_sessions == 1
    # The hosted-UI cookie skips the form the second time.
    browser.get(url)
    assert "code" in _wait_for_callback(browser, app_url)


def test_sign_in_through_simulated_azure_ad(
    local_cognito: LocalCognito, app_url: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    browser.get(local_cognito.base_url + authorize_url(redirect_uri=f"{app_url}/auth/callback"))
    browser.find_element(By.LINK_TEXT, "Sign in with Microsoft (simulated Azure AD)").click()
    assert browser.title == "Microsoft (simulated Azure AD)"
    _screenshot(browser, "simulated-azure-ad")
    _fill(browser, "carol@contoso.example", DEMO_PASSWORD)
    params = _wait_for_callback(browser, app_url)
    assert params["state"] == ["st-123"]
    code = params["code"][0]
    assert local_cognito.pool.codes[code].username == "azuread_carol@contoso.example"
    # The browser itself carried the AuthnRequest and auto-posted the signed XML response.
    assert local_cognito.calls["/_idp/AzureAD/saml2/sso"] == 2
    assert local_cognito.calls["/saml2/idpresponse"] == 1
