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
