import secrets

from tests.support import child_env, free_port, manage


def test_it_passes_the_deploy_check_with_production_settings():
    env = child_env(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="demo.example.com")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert "no issues" in result.stdout


def test_it_refuses_to_run_without_a_secret_key_when_debug_is_off():
    result = manage("check", env=child_env(DEBUG="0", SECRET_KEY=None), check=False)
    assert result.returncode != 0
    assert result.stderr.strip() == "configuration error: SECRET_KEY must be set when DEBUG is off."


def test_it_says_in_one_line_when_the_database_is_unreachable():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = manage("create_test_payment", env=child_env(DATABASE_URL=url), check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the database is unavailable" in lines[0] and "DATABASE_URL" in lines[0]
