"""Rate limits per API client: a clear JSON 429, other clients unaffected, counts in the
cache (Redis when configured), a sliding window that does not double at window edges."""

import uuid
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from secureflow.core import throttles
from secureflow.core.throttles import ClientRateThrottle, parse_rate
from tests.api.conftest import transaction_body
from transactions.models import Transaction

URL = "/api/v1/transactions/"


@pytest.fixture
def rates(settings):
    def _set(**scopes: str) -> None:
        rest = dict(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **scopes}
        settings.REST_FRAMEWORK = rest

    return _set


@pytest.mark.django_db
def test_scoring_rate_gives_json_429_per_client(rates, token_client):
    rates(score="3/min", api="100/min")
    bank_a, bank_b = token_client("bank-a"), token_client("bank-b")

    for n in range(3):
        assert bank_a.post(URL, transaction_body(id=f"A-{n}"), format="json").status_code == 201
    refused = bank_a.post(URL, transaction_body(id="A-3"), format="json")

    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "throttled"
    # the weighted sliding window may ask for up to two periods after a full window
    assert isinstance(body["retry_after"], int) and 1 <= body["retry_after"] <= 120
    assert refused["Retry-After"] == str(body["retry_after"])
    assert "throttled" in body["detail"].lower()
    assert not Transaction.objects.filter(external_id="A-3").exists()
    # another client has its own allowance; reads of the same client use the api scope
    assert bank_b.post(URL, transaction_body(id="B-0"), format="json").status_code == 201
    assert bank_a.get(URL).status_code == 200


@pytest.mark.django_db
def test_general_api_rate_covers_other_endpoints(rates, token_client):
    rates(api="2/min")
    client = token_client("reader")

    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 429]
    assert client.post("/api/v1/feedback/", {}, format="json").status_code == 429


@pytest.mark.django_db
def test_rate_off_disables_the_scope(rates, token_client):
    rates(api="off")
    client = token_client("unlimited")

    assert {client.get(URL).status_code for _ in range(5)} == {200}


def test_rate_format():
    assert parse_rate("6000/min") == (6000, 60)
    assert parse_rate("10/s") == (10, 1)
    assert parse_rate("5/hour") == (5, 3600)
    assert parse_rate("off") is None and parse_rate("") is None and parse_rate(None) is None
    for bad in ("fast", "10/fortnight", "0/min", "x/min"):
        with pytest.raises(ImproperlyConfigured):
            parse_rate(bad)


def _request(key: str) -> SimpleNamespace:
    return SimpleNamespace(auth=SimpleNamespace(key=key), user=None, META={})


@pytest.fixture(params=["local", "redis"])
def counts_in(request, settings):
    """The throttle counts in the local cache, or in Redis through one script call."""
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": f"sf-throttle-window-{uuid.uuid4().hex}",
            }
        }
    return request.param


def test_sliding_window_does_not_double_the_rate_at_a_window_edge(settings, monkeypatch, counts_in):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "10/min"},
    }
    now = [600.0 + 50.0]  # 50 s into a one-minute window
    monkeypatch.setattr(ClientRateThrottle, "timer", staticmethod(lambda: now[0]))
    request, view = _request(uuid.uuid4().hex), SimpleNamespace()

    def allowed() -> bool:
        return ClientRateThrottle().allow_request(request, view)

    assert [allowed() for _ in range(11)] == [True] * 10 + [False]
    now[0] = 600.0 + 62.0  # next window, 2 s in: 10 x (58/60) of the last still count
    assert allowed() is False
    throttle = ClientRateThrottle()
    assert throttle.allow_request(request, view) is False
    assert 1 <= throttle.wait() <= 60
    now[0] = 600.0 + 60.0 + 6.5  # 6.5 s in: 10 x 0.89 = 8.9 -> one more fits
    assert allowed() is True
    assert allowed() is False
    now[0] = 600.0 + 120.0 + 60.0  # a quiet window later: the full rate again
    assert [allowed() for _ in range(11)] == [True] * 10 + [False]


def _redis_counts(settings, redis_url: str, *, api_rate: str) -> str:
    """Counts in Redis under a fresh key prefix (returned), with this rate for the api scope."""
    prefix = f"sf-throttle-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": api_rate},
    }
    return prefix


def test_counts_live_in_redis_when_configured(redis_url, settings):
    import redis

    prefix = _redis_counts(settings, redis_url, api_rate="3/min")
    request, view = _request(uuid.uuid4().hex), SimpleNamespace()
    client = redis.Redis.from_url(redis_url)
    try:
        # two throttle objects stand for two web processes: they share the count
        assert ClientRateThrottle().allow_request(request, view)
        assert ClientRateThrottle().allow_request(request, view)
        assert ClientRateThrottle().allow_request(request, view)
        assert not ClientRateThrottle().allow_request(request, view)
        keys = list(client.scan_iter(match=f"{prefix}:*throttle:api:*"))
        assert len(keys) == 1
        assert int(client.get(keys[0])) == 3
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


def test_leases_keep_the_limit_exact_across_processes(redis_url, settings, monkeypatch):
    import redis

    prefix = _redis_counts(settings, redis_url, api_rate="5000/min")  # leases of 5
    assert throttles.lease_size(5000) == 5 and throttles.lease_size(999) == 1
    assert throttles.lease_size(10**9) == throttles.LEASE_MAX
    monkeypatch.setattr(ClientRateThrottle, "timer", staticmethod(lambda: 6000.0 + 1.0))
    request, view = _request(uuid.uuid4().hex), SimpleNamespace()
    client = redis.Redis.from_url(redis_url)
    # three web processes, each with its own leases, take turns
    processes = [throttles._Leases() for _ in range(3)]
    admitted = refused = 0
    calls = []
    original = throttles._redis_script

    def counting_script(backend):
        script = original(backend)

        def call(**kwargs):
            calls.append(kwargs["args"][3])
            return script(**kwargs)

        return call

    monkeypatch.setattr(throttles, "_redis_script", counting_script)
    try:
        for n in range(5100):
            monkeypatch.setattr(throttles, "leases", processes[n % 3])
            if ClientRateThrottle().allow_request(request, view):
                admitted += 1
            else:
                refused += 1
        # never more than the limit; at most (lease - 1) per process left unused
        assert 5000 - 3 * 4 <= admitted <= 5000
        assert refused == 5100 - admitted
        # far fewer round trips than requests while leases last
        assert len([c for c in calls if c == 5]) < 5100 / 4
        keys = list(client.scan_iter(match=f"{prefix}:*throttle:api:*"))
        assert len(keys) == 1 and int(client.get(keys[0])) == 5000
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


def test_an_expired_lease_is_not_used(redis_url, settings, monkeypatch):
    leases = throttles._Leases()
    leases.keep("k", 3)
    assert leases.take("k") and leases.take("k")
    clock = [throttles.time.monotonic() + throttles.LEASE_SECONDS + 0.01]
    monkeypatch.setattr(throttles.time, "monotonic", lambda: clock[0])
    assert not leases.take("k")
    assert not leases.take("other")


def test_view_scope():
    scored = {"create": "score"}
    assert throttles.view_scope(SimpleNamespace(action="create", throttle_scopes=scored)) == "score"
    assert throttles.view_scope(SimpleNamespace(action="list", throttle_scopes=scored)) == "api"
    assert throttles.view_scope(SimpleNamespace(throttle_scope="batches")) == "batches"
