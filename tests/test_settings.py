"""Settings: embedded defaults, the generated secret, refusal of weak production secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from apex_mediation.settings import Settings, SettingsError, get_settings


def test_embedded_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = Settings(APEX_DATA_DIR=tmp_path, APEX_SECRET_KEY=None)
    value = first.secret
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(value) == 64
    again = Settings(APEX_DATA_DIR=tmp_path, APEX_SECRET_KEY=None)
    assert again.secret == value


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "not set"),
        ("changeme", "placeholder"),
        ("short-but-random-3f9a", "too short"),
        ("a" * 40, "too repetitive"),
    ],
)
def test_production_refuses_a_missing_or_weak_secret(
    tmp_path: Path, secret: str | None, problem: str
) -> None:
    settings = Settings(APEX_ENV="production", APEX_DATA_DIR=tmp_path, APEX_SECRET_KEY=secret)
    with pytest.raises(SettingsError, match=problem):
        _ = settings.secret
    assert not (tmp_path / "secret_key").exists()


def test_production_accepts_a_strong_secret(tmp_path: Path) -> None:
    strong = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    settings = Settings(APEX_ENV="production", APEX_DATA_DIR=tmp_path, APEX_SECRET_KEY=strong)
    assert settings.secret == strong.encode()


def test_defaults_are_embedded_and_masked_output_hides_secrets(tmp_path: Path) -> None:
    settings = Settings(
        APEX_DATA_DIR=tmp_path,
        APEX_SECRET_KEY="s3cret-value-that-is-long-enough",
        REDIS_URL="redis://:hunter2@127.0.0.1:6379/0",
        DATABASE_URL="",
    )
    shown = settings.masked()
    assert shown["postgres"].startswith("embedded")
    assert shown["clickhouse"].startswith("chDB")
    assert shown["cache"] == "redis"
    assert shown["APEX_SECRET_KEY"] == "****"
    assert shown["REDIS_URL"] == "redis://:****@127.0.0.1:6379/0"
    assert "hunter2" not in str(shown)
    assert shown["DATABASE_URL"] == "(unset)"


@pytest.mark.parametrize(
    ("overrides", "secure"),
    [
        ({}, False),
        ({"APEX_PUBLIC_URL": "https://ads.example.com"}, True),
        ({"APEX_HTTPS": True}, True),
        ({"APEX_ENV": "production"}, True),
    ],
)
def test_cookies_are_secure_over_https(
    tmp_path: Path, overrides: dict[str, object], secure: bool
) -> None:
    settings = Settings(APEX_DATA_DIR=tmp_path, **overrides)  # type: ignore[arg-type]
    assert settings.cookie_secure is secure


def test_secrets_are_read_from_files_named_after_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How Kubernetes mounts a Secret (deploy/k8s): one file per setting, its value inside."""
    (tmp_path / "APEX_STRIPE_SECRET_KEY").write_text("sk_test_from_a_file\n")
    (tmp_path / "OPENAI_API_KEY").write_text("sk-from-a-file")
    monkeypatch.setenv("APEX_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.delenv("APEX_STRIPE_SECRET_KEY", raising=False)
    settings = get_settings()
    assert settings.stripe_secret_key is not None
    assert settings.stripe_secret_key.get_secret_value() == "sk_test_from_a_file"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-from-the-environment"
