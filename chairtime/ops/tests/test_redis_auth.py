"""The Redis AUTH token: read from REDIS_PASSWORD_FILE (the CSI volume's
redis-auth-token), passed to the rate-limit cache as the connection password, while
REDIS_URL stays without credentials (docs/aws.md, "Redis AUTH token")."""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured

from chairtime.ops.security import FailSoftRedisCache
from chairtime.testing.proxy import free_port

from .test_security import production_settings


def ratelimit_cache_settings(**changes: str) -> dict:
    return production_settings(**changes)["CACHES"]["ratelimit"]


@pytest.fixture
def token_file(tmp_path) -> Iterator[tuple[Path, str]]:
    token = secrets.token_hex(32)
    path = tmp_path / "redis-auth-token"
    # As the CSI driver writes it: the JSON key's value, no newline.
    path.write_text(token)
    return path, token


def test_it_passes_the_token_from_the_file_to_the_rate_limit_cache(token_file):
    path, token = token_file
    cache = ratelimit_cache_settings(
        REDIS_URL="rediss://master.redis.example:6379/0", REDIS_PASSWORD_FILE=str(path)
    )
    assert cache["BACKEND"] == "chairtime.ops.security.FailSoftRedisCache"
    assert cache["OPTIONS"]["password"] == token
    # The URL stays without credentials: the token is only in its own secret.
    assert cache["LOCATION"] == "rediss://master.redis.example:6379/0"


def test_it_sends_no_password_when_none_is_set(tmp_path):
    assert "password" not in ratelimit_cache_settings()["OPTIONS"]
    # An empty file (the e2e overlay's) also means no AUTH, as on a local Redis.
    empty = tmp_path / "redis-auth-token"
    empty.write_text("")
    assert "password" not in ratelimit_cache_settings(REDIS_PASSWORD_FILE=str(empty))["OPTIONS"]


def test_it_refuses_to_start_when_the_password_file_is_missing(tmp_path):
    with pytest.raises(ImproperlyConfigured, match=r"REDIS_PASSWORD_FILE=.* cannot be read"):
        production_settings(REDIS_PASSWORD_FILE=str(tmp_path / "absent"))


# --- against a real Redis that requires AUTH -------------------------------------------


@pytest.fixture
def redis_with_auth(token_file) -> Iterator[tuple[str, str]]:
    """A redis-server of this test's own on loopback, with --requirepass."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary: the AUTH path is not exercised")
    _, token = token_file
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--requirepass", token],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, password=token)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url, token
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def cache_from_settings(**changes: str) -> FailSoftRedisCache:
    """The rate-limit cache exactly as chairtime/settings.py configures it."""
    params = ratelimit_cache_settings(**changes)
    return FailSoftRedisCache(params["LOCATION"], params)


def test_it_counts_in_a_redis_that_requires_the_token(redis_with_auth, token_file, caplog):
    url, token = redis_with_auth
    path, _ = token_file
    cache = cache_from_settings(REDIS_URL=url, REDIS_PASSWORD_FILE=str(path), REDIS_KEY_PREFIX="auth-test")

    with caplog.at_level(logging.WARNING, logger="chairtime.security"):
        assert cache.add("bookings", 0) is True
        assert [cache.incr("bookings") for _ in range(3)] == [1, 2, 3]

    assert caplog.records == []
    # In Redis itself, not in the process's fallback memory.
    raw = redis.Redis.from_url(url, password=token)
    assert raw.get("auth-test:1:bookings") == b"3"
    raw.close()


def test_it_fails_clearly_without_the_token(redis_with_auth, caplog):
    url, token = redis_with_auth
    # Django's own backend, as configured without REDIS_PASSWORD: Redis refuses it.
    params = ratelimit_cache_settings(REDIS_URL=url)
    with pytest.raises(redis.AuthenticationError):
        RedisCache(params["LOCATION"], params).set("bookings", 1)

    # Ours keeps booking on per-process counts and says why, once, in the log.
    cache = FailSoftRedisCache(params["LOCATION"], params)
    with caplog.at_level(logging.WARNING, logger="chairtime.security"):
        assert cache.add("bookings", 0) is True
        assert cache.incr("bookings") == 1
    assert [(r.getMessage(), r.error) for r in caplog.records] == [
        ("rate limit cache unreachable; counting per process", "AuthenticationError")
    ]
    raw = redis.Redis.from_url(url, password=token)
    assert raw.dbsize() == 0
    raw.close()
