"""The H5 pages in a real browser (headless Chromium through Selenium): the ticket from home_url
becomes a session and leaves the address bar, visits count on reload, the H5 login form works
both ways, and no page trips its own Content-Security-Policy."""
import os
import re
import shutil
import tempfile

import pytest

from util import login, masked, no_cookie_session, random_phone, register_user

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
_missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
if _missing:
    pytest.skip("browser tests need %s (Debian packages chromium and chromium-driver; "
                "make test installs them)" % " and ".join(_missing), allow_module_level=True)

from selenium import webdriver  # noqa: E402  (only once the browser is known to exist)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException, WebDriverException)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS = os.path.join(ROOT, "test", "artifacts")


@pytest.fixture(scope="module")
def driver(request):
    profile = tempfile.mkdtemp(prefix="e2e-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=412,915",
                "--user-data-dir=" + profile):
        opts.add_argument(arg)
    opts.set_capability("acceptInsecureCerts", True)     # the stack's self-signed certificate
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise

    def finish():
        try:
            drv.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    request.addfinalizer(finish)
    drv.set_page_load_timeout(30)
    return drv


@pytest.fixture(scope="module")
def user(base_url):
    s = no_cookie_session()
    try:
        return register_user(s, base_url)
    finally:
        s.close()


def wait(driver, condition, timeout=15):
    return WebDriverWait(driver, timeout).until(condition)


def gone(element):
    """A wait condition: element's page has been replaced. chromedriver reports a node of a
    replaced document either as a stale element or as an inspector error ("Node with given
    id does not belong to the document"); both mean the same here."""
    def check(_driver):
        try:
            element.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
    return check


def csp_violations(driver):
    """Console entries since the last call that report a Content-Security-Policy violation."""
    return [e for e in driver.get_log("browser")
            if re.search(r"content[- ]security[- ]policy", e.get("message", ""), re.I)]


def visits(driver):
    text = driver.find_element(By.ID, "visits").text
    m = re.fullmatch(r"\D*?(\d+)\D*", text)
    assert m, "id=visits holds no single count: %r" % text
    return int(m.group(1))


def session_cookie(driver):
    return [c for c in driver.get_cookies() if c["name"] == "__Host-sid"]


def fill_login_form(driver, base_url, phone, password):
    driver.get(base_url + "/users/login")
    assert driver.current_url == base_url + "/users/login"
    driver.find_element(By.NAME, "phone").send_keys(phone)
    driver.find_element(By.NAME, "password").send_keys(password)
    submit = driver.find_element(By.ID, "submit")
    submit.click()
    wait(driver, gone(submit))     # the form's page is gone: the answer has loaded


def test_home_url_from_the_app(driver, base_url, user):
    driver.delete_all_cookies()
    csp_violations(driver)                     # start from an empty console
    s = no_cookie_session()
    try:
        data = login(s, base_url, user["phone"], user["password"])
    finally:
        s.close()

    driver.get(data["home_url"])
    # The ticket was exchanged for a session and is gone from the address bar.
    assert driver.current_url == base_url + "/users/home"
    assert "ticket" not in driver.current_url
    phone = wait(driver, EC.presence_of_element_located((By.ID, "phone")))
    assert phone.text.strip() == masked(user["phone"])
    first = visits(driver)
    cookies = session_cookie(driver)
    assert len(cookies) == 1, driver.get_cookies()
    assert cookies[0]["httpOnly"] and cookies[0]["secure"], cookies
    assert cookies[0].get("sameSite") == "Lax", cookies
    assert driver.execute_script("return document.cookie") == ""   # HttpOnly: not for scripts

    driver.refresh()
    wait(driver, EC.presence_of_element_located((By.ID, "phone")))
    assert driver.current_url == base_url + "/users/home"
    assert visits(driver) == first + 1

    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "home.png")
    assert driver.save_screenshot(shot)
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert csp_violations(driver) == []


def test_h5_login_form(driver, base_url, user):
    driver.delete_all_cookies()
    csp_violations(driver)
    fill_login_form(driver, base_url, user["phone"], user["password"])
    wait(driver, EC.url_to_be(base_url + "/users/home"))
    phone = wait(driver, EC.presence_of_element_located((By.ID, "phone")))
    assert phone.text.strip() == masked(user["phone"])
    assert len(session_cookie(driver)) == 1
    assert csp_violations(driver) == []


def test_h5_login_form_with_a_wrong_password(driver, base_url, user):
    driver.delete_all_cookies()
    csp_violations(driver)
    fill_login_form(driver, base_url, user["phone"], user["password"] + "-wrong")
    error = wait(driver, EC.visibility_of_element_located((By.ID, "error")))
    assert error.text.strip()
    assert driver.current_url == base_url + "/users/login"
    assert session_cookie(driver) == []
    # The page is still a usable login form.
    assert driver.find_element(By.ID, "submit").is_displayed()
    assert csp_violations(driver) == []


def test_h5_login_form_with_an_unknown_phone(driver, base_url):
    driver.delete_all_cookies()
    csp_violations(driver)
    fill_login_form(driver, base_url, random_phone(), "whatever-password")
    error = wait(driver, EC.visibility_of_element_located((By.ID, "error")))
    assert error.text.strip()
    assert driver.current_url == base_url + "/users/login"
    assert session_cookie(driver) == []
    assert csp_violations(driver) == []


def test_logout_button_ends_the_session(driver, base_url, user):
    """The home page's own logout form: a real same-origin POST passes the Origin check."""
    driver.delete_all_cookies()
    fill_login_form(driver, base_url, user["phone"], user["password"])
    wait(driver, EC.url_to_be(base_url + "/users/home"))
    button = wait(driver, EC.element_to_be_clickable((By.ID, "logout")))
    csp_violations(driver)
    button.click()
    # A browser's cookie logout is sent on to the login page. (Waiting for the URL rather
    # than the button's staleness: chromedriver can report the replaced node as an
    # inspector error instead of a stale element.)
    wait(driver, EC.url_to_be(base_url + "/users/login"))
    driver.get(base_url + "/users/home")
    link = wait(driver, EC.presence_of_element_located((By.ID, "login-link")))
    assert link.get_attribute("href") == base_url + "/users/login"
    assert not driver.find_elements(By.ID, "visits")
    assert csp_violations(driver) == []
