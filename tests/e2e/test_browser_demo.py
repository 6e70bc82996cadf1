"""The demo in a real browser: headless Debian Chromium through selenium and chromedriver.

One scenario walks every sign-in path of the demo against the local Cognito over real HTTP and
saves a screenshot of each page under ``artifacts/e2e/``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
WAIT = 20.0


@dataclass(frozen=True)
class Demo:
    app_url: str
    cognito_url: str


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """The local Cognito and the demo app under uvicorn, each on a free loopback port."""
    import uvicorn

    from cognito_middleware.local import LocalCognito, demo_seed
    from example_app import create_app, demo_config
    from example_app.__main__ import demo_users_of

    # The app's socket is bound first so that its URL can be registered with the emulator
    # before either server starts, without racing for a port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    seed = demo_seed(app_url=app_url)
    cognito = LocalCognito(seed)
    with cognito.serve(host="127.0.0.1", port=0) as cognito_url:
        app = create_app(demo_config(cognito.env(app_url=app_url)), demo_users=demo_users_of(seed))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + WAIT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the demo app did not start")
            time.sleep(0.05)
        try:
            yield Demo(app_url=app_url, cognito_url=cognito_url.rstrip("/"))
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium, Debian's build, driven through Debian's chromedriver."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f"needs Debian's chromium and chromium-driver: missing {', '.join(missing)}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


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


class Walk:
    """Small helpers over the driver: waits, form filling and numbered screenshots."""

    def __init__(self, driver: object, demo: Demo) -> None:
        from selenium.webdriver.remote.webdriver import WebDriver

        assert isinstance(driver, WebDriver)
        self.driver = driver
        self.demo = demo
        self.shots = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    def open(self, path: str) -> None:
        self.driver.get(self.demo.app_url + path)

    def find(self, css: str) -> object:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, WAIT).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, css))
            )
        except Exception:
            self.shot("failure")
            raise AssertionError(
                f"no {css!r} on {self.driver.current_url}:\n{self.body_text()[:2000]}"
            ) from None

    def text(self, css: str) -> str:
        return str(self.find(css).text).strip()  # type: ignore[attr-defined]

    def click(self, css: str) -> None:
        """Click and wait until the browser has left the page (the element went stale)."""
        from selenium.webdriver.support.ui import WebDriverWait

        element = self.find(css)
        element.click()  # type: ignore[attr-defined]
        WebDriverWait(self.driver, WAIT).until(_gone(element))

    def body_text(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def present(self, css: str) -> bool:
        from selenium.webdriver.common.by import By

        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def shot(self, name: str) -> None:
        self.shots += 1
        self.driver.save_screenshot(str(ARTIFACTS / f"{self.shots:02d}-{name}.png"))

    def path(self) -> str:
        url = str(self.driver.current_url)
        assert url.startswith(self.demo.app_url), f"expected the app, at {url}"
        return url[len(self.demo.app_url) :]

    def sign_in_form(self, origin: str, name: str) -> None:
        """Wait for a sign-in form served by ``origin`` and screenshot it."""
        self.find("input[name=username]")
        url = str(self.driver.current_url)
        assert url.startswith(origin), f"expected a sign-in form from {origin}, at {url}"
        self.shot(name)

    def submit_credentials(self, username: str, password: str) -> None:
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support.ui import WebDriverWait

        user_field = self.find("input[name=username]")
        user_field.clear()  # type: ignore[attr-defined]
        user_field.send_keys(username)  # type: ignore[attr-defined]
        password_field = self.find("input[name=password]")
        password_field.send_keys(password, Keys.ENTER)  # type: ignore[attr-defined]
        WebDriverWait(self.driver, WAIT).until(_gone(password_field))

    def wait_path(self, path: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            url = str(self.driver.current_url)
            if url.split("?", 1)[0] == self.demo.app_url + path:
                return
            time.sleep(0.05)
        self.shot("failure")
        raise AssertionError(f"expected {path}, at {self.driver.current_url}")

    def sign_out(self) -> None:
        """Press the sign-out button of the home page; it ends at the home page, signed out."""
        self.open("/")
        self.click("#sign-out")
        self.wait_path("/")
        self.find("#sign-in")
        assert not self.present("#current-user"), "still signed in after signing out"


def test_demo_in_a_browser(demo: Demo, browser: object) -> None:
    from cognito_middleware.local.seed import DEMO_PASSWORD

    walk = Walk(browser, demo)

    # A guest gets an identity-pool identity and the unauthenticated role.
    walk.open("/guest")
    identity_id = walk.text("#identity-id")
    assert re.fullmatch(r"[a-z]{2}-[a-z]+-\d:[0-9a-f-]{36}", identity_id), identity_id
    assert "unauthenticated role" in walk.text("#role")
    assert walk.text("#expiration")
    walk.shot("guest")

    walk.open("/")
    assert "bob" in walk.text("#demo-users")
    walk.shot("home")

    # bob signs in through the hosted UI and lands on his profile, with a clean URL.
    walk.click("#sign-in")
    walk.sign_in_form(demo.cognito_url, "hosted-ui")
    walk.submit_credentials("bob", DEMO_PASSWORD)
    walk.wait_path("/profile")
    assert "code=" not in walk.driver.current_url
    assert walk.text("#username") == "bob"
    assert walk.text("#provider") == "Cognito"
    assert "users" in walk.text("#groups")
    walk.shot("profile-bob")

    # bob is not an admin.
    walk.open("/admin")
    assert "Access denied" in walk.text("h1")
    assert not walk.present("#admin-panel")
    walk.shot("admin-forbidden-bob")

    walk.sign_out()
    walk.shot("signed-out")

    # The Cognito session ended with ours: signing in asks for credentials again.
    walk.open("/admin")
    walk.sign_in_form(demo.cognito_url, "hosted-ui-again")
    walk.submit_credentials("alice", DEMO_PASSWORD)
    walk.wait_path("/admin")
    assert "alice" in walk.text("#admin-panel")
    walk.shot("admin-alice")

    # Signed in, alice's AWS credentials carry her group's role (her guest identity, now
    # linked to her sign-in, may keep its id, as in Cognito).
    walk.open("/guest")
    assert walk.text("#role").endswith(":role/demo-admin")
    assert "signed in as alice" in walk.text("#visitor")
    walk.shot("credentials-alice")

    walk.sign_out()

    # The Azure AD button skips the Cognito page and goes to the (simulated) Azure AD.
    walk.click("#sign-in-azuread")
    walk.sign_in_form(demo.cognito_url, "azure-ad")
    assert "simulated Azure AD" in walk.body_text()
    assert "Sign in with your username and password" not in walk.body_text()
    walk.submit_credentials("carol@contoso.example", DEMO_PASSWORD)
    walk.wait_path("/profile")
    assert walk.text("#provider") == "AzureAD"
    assert walk.text("#provider-type") == "SAML"
    walk.shot("profile-azure-ad")

    walk.sign_out()
    walk.shot("signed-out-again")

    # After sign-out a protected page leads to the hosted-UI form, not back into a session.
    walk.open("/profile")
    walk.sign_in_form(demo.cognito_url, "hosted-ui-after-sign-out")
    assert walk.present("input[name=password]")
