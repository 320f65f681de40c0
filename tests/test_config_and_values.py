"""Settings read from the environment, and the contribution-month value type (no database)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shebao.platform.config import DEFAULT_DATABASE_URL, ConfigError, Settings
from shebao.platform.core.month import Month
from shebao.platform.errors import ErrorCode, ShebaoError

# -- Settings.from_env -------------------------------------------------------------------------


def test_defaults_from_an_empty_environment():
    s = Settings.from_env({})
    assert s == Settings()
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.is_sqlite
    assert s.migration_database_url is None
    assert s.migrations_url == DEFAULT_DATABASE_URL
    assert s.redis_url is None
    assert s.token_ttl == timedelta(hours=12)
    assert s.lockout_threshold == 5
    assert s.lockout_duration == timedelta(minutes=15)
    assert s.max_page_size == 100
    assert s.storage_dir == Path("var/files")


def test_empty_variables_mean_defaults():
    assert Settings.from_env({"SHEBAO_DATABASE_URL": "", "SHEBAO_REDIS_URL": "", "SHEBAO_TOKEN_TTL_HOURS": ""}) == (
        Settings()
    )


def test_values_are_read():
    s = Settings.from_env(
        {
            "SHEBAO_DATABASE_URL": "postgresql://app@db/shebao",
            "SHEBAO_MIGRATION_DATABASE_URL": "postgresql://owner@db/shebao",
            "SHEBAO_REDIS_URL": "redis://cache:6379/0",
            "SHEBAO_TOKEN_TTL_HOURS": "8",
            "SHEBAO_MAX_QUERY_DEPTH": "7",
            "SHEBAO_STORAGE_DIR": "/srv/files",
        }
    )
    assert s.database_url == "postgresql://app@db/shebao"
    assert not s.is_sqlite
    assert s.migrations_url == "postgresql://owner@db/shebao"
    assert s.redis_url == "redis://cache:6379/0"
    assert s.token_ttl == timedelta(hours=8)
    assert s.max_query_depth == 7
    assert s.storage_dir == Path("/srv/files")


@pytest.mark.parametrize("var", ["SHEBAO_DATABASE_URL", "SHEBAO_MIGRATION_DATABASE_URL"])
@pytest.mark.parametrize("value", ["mysql://x", "nonsense", "oracle://scott@db/orcl"])
def test_bad_database_url_names_the_variable(var, value):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({var: value})
    assert var in str(err.value)


@pytest.mark.parametrize("value", ["http://cache:6379", "cache:6379", "localhost"])
def test_bad_redis_url_names_the_variable(value):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"SHEBAO_REDIS_URL": value})
    assert "SHEBAO_REDIS_URL" in str(err.value)


@pytest.mark.parametrize("url", ["redis://localhost", "rediss://cache:6380/1", "unix:///run/redis.sock"])
def test_good_redis_urls(url):
    assert Settings.from_env({"SHEBAO_REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "100000"])
def test_bad_token_ttl_is_refused(value):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"SHEBAO_TOKEN_TTL_HOURS": value})
    assert "SHEBAO_TOKEN_TTL_HOURS" in str(err.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# -- Month -------------------------------------------------------------------------------------


def test_parse_and_print():
    m = Month.parse("2026-11")
    assert (m.year, m.month) == (2026, 11)
    assert str(m) == "2026-11"
    assert Month.parse(" 2026-01 ") == Month(2026, 1)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "26-11", "2026/11", "2026-1", "202611", "2026-11-01", "", "abcd-ef", "0999-01"]
)
def test_parse_refuses(text):
    with pytest.raises(ShebaoError) as err:
        Month.parse(text, "month")
    assert err.value.code == ErrorCode.INVALID_MONTH
    assert err.value.problems[0].field == "month"
    assert err.value.problems[0].params["value"] == text


def test_parse_refuses_non_text():
    with pytest.raises(ShebaoError) as err:
        Month.parse(202611)  # type: ignore[arg-type]
    assert err.value.code == ErrorCode.INVALID_MONTH


def test_constructor_refuses_bad_month():
    with pytest.raises(ShebaoError):
        Month(2026, 13)
    with pytest.raises(ShebaoError):
        Month(2026, 0)


def test_add_across_year_boundaries():
    assert Month(2026, 11).add(1) == Month(2026, 12)
    assert Month(2026, 11).add(2) == Month(2027, 1)
    assert Month(2026, 12).add(1) == Month(2027, 1)
    assert Month(2027, 1).add(-1) == Month(2026, 12)
    assert Month(2026, 3).add(-15) == Month(2024, 12)
    assert Month(2026, 5).add(24) == Month(2028, 5)
    assert Month(2026, 5).add(0) == Month(2026, 5)


def test_subtraction_counts_months():
    assert Month(2027, 1) - Month(2026, 12) == 1
    assert Month(2026, 12) - Month(2027, 1) == -1
    assert Month(2028, 3) - Month(2026, 11) == 16
    assert Month(2026, 11) - Month(2026, 11) == 0
    # add and subtract are inverse
    assert Month(2026, 11).add(Month(2030, 2) - Month(2026, 11)) == Month(2030, 2)


def test_ordering_and_hashing():
    months = [Month.parse(t) for t in ("2027-01", "2026-12", "2026-02", "2025-12")]
    assert sorted(months) == [Month(2025, 12), Month(2026, 2), Month(2026, 12), Month(2027, 1)]
    assert Month(2026, 12) < Month(2027, 1)
    assert Month(2026, 2) > Month(2025, 12)
    assert Month(2026, 12) <= Month(2026, 12)
    assert len({Month(2026, 1), Month.parse("2026-01")}) == 1
    # text order of the stored form is calendar order
    assert sorted(str(m) for m in months) == [str(m) for m in sorted(months)]
