"""Settings: defaults, environment names, settings files, and the source configs built."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings
from sources.systems import System

ENV_NAMES = (
    "DATABASE_URL",
    "REVGRAPH_DATABASE_URL",
    "REVGRAPH_DB_SCHEMA",
    "REDIS_URL",
    "REVGRAPH_REDIS_URL",
    "REVGRAPH_REDIS_PREFIX",
    "REVGRAPH_SETTINGS_FILE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from the defaults, whatever the test run's own environment."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for system in System:
        for field in ("URL", "TOKEN", "TIMEOUT_S", "MAX_RETRIES", "CONCURRENCY"):
            monkeypatch.delenv(f"REVGRAPH_{system.value}_{field}", raising=False)


def test_defaults_are_the_embedded_setup_and_the_simulators() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///.revgraph/revgraph.sqlite3"
    assert settings.store_schema is None and not settings.is_postgres
    assert settings.redis_url is None and settings.redis_prefix == "revgraph:"
    configs = settings.source_configs()
    assert {s: c.base_url for s, c in configs.items()} == {
        System.CRM: "http://127.0.0.1:8001",
        System.CONTRACTS: "http://127.0.0.1:8002",
        System.BILLING: "http://127.0.0.1:8003",
        System.ERP: "http://127.0.0.1:8004",
    }
    # No credential has a default: only the demo passes the simulators' tokens.
    assert {c.token for c in configs.values()} == {""}
    assert settings.missing_tokens() == [
        "REVGRAPH_CRM_TOKEN",
        "REVGRAPH_CONTRACTS_TOKEN",
        "REVGRAPH_BILLING_TOKEN",
        "REVGRAPH_ERP_TOKEN",
    ]
    assert configs[System.ERP].timeout_s == 5.0 and configs[System.ERP].concurrency == 16


def test_tokens_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVGRAPH_CRM_TOKEN", "crm-secret")
    monkeypatch.setenv("REVGRAPH_BILLING_TOKEN", "sk_live_x")
    settings = Settings()
    assert settings.source_configs()[System.BILLING].token == "sk_live_x"
    assert settings.missing_tokens() == ["REVGRAPH_CONTRACTS_TOKEN", "REVGRAPH_ERP_TOKEN"]
    assert settings.missing_tokens([System.CRM, System.BILLING]) == []


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@db/revgraph")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("REVGRAPH_REDIS_PREFIX", "rg:")
    monkeypatch.setenv("REVGRAPH_CRM_URL", "https://crm.example.com")
    monkeypatch.setenv("REVGRAPH_BILLING_TIMEOUT_S", "9.5")
    monkeypatch.setenv("REVGRAPH_ERP_MAX_RETRIES", "0")
    monkeypatch.setenv("REVGRAPH_CONTRACTS_CONCURRENCY", "4")
    settings = Settings()
    assert settings.is_postgres and settings.store_schema == "revgraph"
    monkeypatch.setenv("REVGRAPH_DB_SCHEMA", "tenant_a")
    settings = Settings()
    assert settings.store_schema == "tenant_a"
    assert (settings.redis_url, settings.redis_prefix) == ("redis://cache:6379/1", "rg:")
    configs = settings.source_configs()
    # A partial override keeps the source's other defaults.
    assert configs[System.CRM].base_url == "https://crm.example.com"
    assert configs[System.CRM].token == ""
    assert configs[System.BILLING].timeout_s == 9.5
    assert configs[System.ERP].max_retries == 0
    assert configs[System.CONTRACTS].concurrency == 4


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVGRAPH_CRM_TIMEOUT_S", "-1")
    with pytest.raises(ValueError, match="timeout_s"):
        Settings()


def test_toml_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "revgraph.toml"
    path.write_text(
        'database_url = "postgresql+asyncpg://file@db/x"\n'
        'redis_prefix = "file:"\n'
        "[billing]\n"
        'url = "https://billing.example.com"\n'
        "timeout_s = 12\n"
    )
    monkeypatch.setenv("REVGRAPH_SETTINGS_FILE", str(path))
    monkeypatch.setenv("REVGRAPH_REDIS_PREFIX", "env:")  # the environment wins
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://file@db/x"
    assert settings.redis_prefix == "env:"
    assert settings.billing.url == "https://billing.example.com"
    assert settings.billing.timeout_s == 12 and settings.billing.token == ""


def test_dotenv_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "revgraph.env"
    path.write_text("DATABASE_URL=sqlite+aiosqlite:///x.db\nREVGRAPH_ERP_TOKEN=secret\n")
    monkeypatch.setenv("REVGRAPH_SETTINGS_FILE", str(path))
    settings = Settings()
    assert settings.database_url == "sqlite+aiosqlite:///x.db"
    assert settings.erp.token == "secret" and settings.erp.url == "http://127.0.0.1:8004"


def test_a_missing_settings_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVGRAPH_SETTINGS_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError):
        Settings()


def test_answer_read_models_are_chosen_per_system(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().reads.models == frozenset()  # the systems that batch are read live
    monkeypatch.setenv("REVGRAPH_READS_MODELS", '["ERP", "CONTRACTS"]')
    assert Settings().reads.models == {System.ERP, System.CONTRACTS}
    monkeypatch.setenv("REVGRAPH_READS_MODELS", '["BILLING"]')
    with pytest.raises(ValueError, match="Billing has its own read model"):
        Settings()
