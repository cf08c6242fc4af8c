from settings import DEFAULT_SQLITE_PATH, from_env


def test_defaults_need_no_setup() -> None:
    s = from_env({})
    assert s.database_url == f"sqlite:///{DEFAULT_SQLITE_PATH}"
    assert (s.host, s.port) == ("127.0.0.1", 8050)
    assert s.redis_url is None


def test_environment_overrides() -> None:
    s = from_env(
        {
            "DATABASE_URL": "postgresql+psycopg://u@h/db",
            "PORT": "9000",
            "SECRET_KEY": "k",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "COOKIE_SECURE": "true",
        }
    )
    assert s.database_url.startswith("postgresql+psycopg")
    assert s.port == 9000 and s.secret_key == "k" and s.cookie_secure
    assert s.redis_url == "redis://127.0.0.1:6379/0"
