"""Logging in and the self-hosted API docs, in real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_investigator_logs_in_and_out(page, make_user):
    make_user("ivy")
    page.goto("/")
    assert "/accounts/login/" in page.url
    screenshot(page, "login")
    page.get_by_label("Username").fill("ivy")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    expect(page.get_by_text(re.compile("username and password didn't match", re.I))).to_be_visible()

    log_in(page, "ivy", "pw-ivy-123!")
    expect(page.get_by_role("button", name=re.compile("log out ivy", re.I))).to_be_visible()
    screenshot(page, "home")
    page.get_by_role("button", name=re.compile("log out", re.I)).click()
    page.goto("/")
    assert "/accounts/login/" in page.url


def test_repeated_wrong_passwords_lock_the_sign_in(page, make_user):
    make_user("lou")
    page.goto("/accounts/login/")
    for _ in range(5):
        page.get_by_label("Username").fill("lou")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name=re.compile("log in", re.I)).click()
        page.wait_for_load_state()
    page.get_by_label("Username").fill("lou")
    page.get_by_label("Password").fill("pw-lou-123!")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    screenshot(page, "login-locked")
    assert "/accounts/login/" in page.url


def test_api_docs_render_without_outside_network(page, make_user):
    make_user("ivy")
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not re.match(r"^(https?://(127\.0\.0\.1|localhost)|data:|blob:)", request.url)
            else None
        ),
    )
    log_in(page, "ivy", "pw-ivy-123!")
    page.goto("/api/docs/")
    page.wait_for_selector("text=SecureFlow API")
    page.wait_for_selector("text=/api/v1/transactions/")
    screenshot(page, "api-docs")
    assert outside == []


def test_django_admin_pages_run_under_the_content_security_policy(page, make_user):
    """The `page` fixture fails the test on anything the policy refuses."""
    from secureflow.core import roles

    admin = make_user("ada", roles.ADMIN, is_staff=True, is_superuser=True)
    page.goto("/admin/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("pw-ada-123!")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    heading = page.get_by_role("heading", name=re.compile("site administration", re.I))
    expect(heading).to_be_visible()
    page.goto(f"/admin/auth/user/{admin.pk}/change/")
    # the groups picker is built by admin's SelectFilter2.js
    expect(page.locator("#id_groups_filter")).to_be_visible()
    screenshot(page, "admin-user")
    response = page.goto("/admin/auth/user/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
