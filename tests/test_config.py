"""Configuration that says when it is wrong: placeholder keys, the secrets example."""

from __future__ import annotations

from pathlib import Path

import pytest

from parallax.config import ConfigError, load_config


def test_a_placeholder_key_is_no_key_and_is_reported(monkeypatch):
    import io

    from parallax import cli
    from parallax.config import is_placeholder, load_config

    for value in ("your-openai-key", "<key>", "sk-...", "sk-ant-...", "changeme", "paste-your-key-here", "…"):
        assert is_placeholder(value), value
    real_looking = ("-".join(("sk", "proj", "Ab1" * 7)), "-".join(("sk", "ant", "api03", "xy9" * 6)), "ollama")
    for value in real_looking:  # assembled here: no key-shaped literal in the repository
        assert not is_placeholder(value), value
    config = load_config(env={"OPENAI_API_KEY": "your-openai-key", "ANTHROPIC_API_KEY": "sk-ant-...",
                              "DEEPL_AUTH_KEY": "..."})
    assert config.configured_providers() == [] and config.default_engines() == ["offline:rules"]
    assert config.default_translation_engines() == ["offline:pseudo"]
    assert config.placeholder_keys() == ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPL_AUTH_KEY"]
    err = io.StringIO()
    monkeypatch.setenv("OPENAI_API_KEY", "your-openai-key")
    assert cli.main(["engines"], out=io.StringIO(), err=err) == 0
    assert "OPENAI_API_KEY holds a placeholder, not a key" in err.getvalue()


def test_the_secrets_example_copied_unedited_configures_nothing():
    import tomllib
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / ".streamlit" / "secrets.toml.example"
    assert tomllib.loads(example.read_text(encoding="utf-8")) == {}  # every line a comment


@pytest.mark.parametrize(("body", "message"), [
    ('[engines.local]\nbase_url = "http://localhost:8000/v1"\nmodel = "m"\nprice_inptu = 0.1',
     "line 5: [engines.local] unknown setting 'price_inptu'; valid settings: base_url, model, api_key_env, "
     "price_input, price_output"),
    ('[engines.local]\nbase_url = "http://localhost:8000/v1"\nmodel = "m"\nprice_output = "0.6"',
     "line 5: [engines.local] price_output = '0.6': input should be a valid number"),
    ('[engines.local]\nbase_url = "localhost:8000"\nmodel = "m"',
     "line 3: [engines.local] base_url = 'localhost:8000': must be an http:// or https:// address"),
    ('[perspectives.tone]\nrubric = "Warm and direct."\nweigth = 2',
     "line 4: [perspectives.tone] unknown setting 'weigth'; valid settings: description, rubric, weight, two_step"),
    ('[perspectives.tone]\nrubric = "Warm and direct."\nengine = "openai:gpt-4o"',
     "line 4: [perspectives.tone] unknown setting 'engine'; valid settings: description, rubric, weight"),
    ('[engins.local]\nmodel = "m"', "line 2: unknown setting 'engins'; valid settings: engines, perspectives"),
    ('[providers.openai]\nmax_concurency = 4', "line 3: [providers.openai] unknown setting 'max_concurency'; "
                                               "valid settings: max_concurrency"),
])
def test_a_wrong_setting_is_named_with_its_file_line_and_the_valid_settings(tmp_path, body, message):
    path = tmp_path / "parallax.toml"
    path.write_text("# Parallax settings\n" + body + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path, env={})
    assert str(refused.value).startswith(f"{path}, {message}")


def test_a_key_pasted_where_its_variable_name_belongs_is_refused_and_not_repeated(tmp_path):
    key = "sk-" + "proj-" + "a1b2c3d4e5f6g7h8"
    path = tmp_path / "parallax.toml"
    path.write_text(f'[engines.vllm]\nbase_url = "http://gpu:8000/v1"\nmodel = "m"\napi_key_env = "{key}"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path, env={})
    assert "api_key_env = …: must be the name of an environment variable" in str(refused.value)
    assert key not in str(refused.value)


def test_the_example_configuration_is_valid():
    config = load_config(Path(__file__).resolve().parent.parent / "parallax.toml.example", env={})
    assert {"ollama", "vllm", "llama-cpp-python"} <= set(config.engines) and "plain-language" in config.perspectives


# --- a parallax.toml in the working folder cannot take over keys (issue 27) ---

DEEPL_KEY = "deepl-test-key-0123456789:fx"
SECRET = "aws-secret-0123456789abcdefghij"


@pytest.fixture
def here(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """The CLI run from a folder whose parallax.toml somebody else wrote; no key but the ones a test sets."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "PARALLAX_CONFIG",
                 "DEEPL_AUTH_KEY", "DEEPL_SERVER_URL", "LIBRETRANSLATE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_working_folder_file_cannot_redefine_deepl_and_receive_its_key(fake, here, monkeypatch):
    from tests.test_cli import call

    (here / "parallax.toml").write_text(f'# shared settings\n[engines.deepl]\nbase_url = "{fake.openai_url}"\n'
                                        'model = "m"\napi_key_env = "DEEPL_AUTH_KEY"\n')
    monkeypatch.setenv("DEEPL_AUTH_KEY", DEEPL_KEY)
    monkeypatch.setenv("DEEPL_SERVER_URL", fake.anthropic_url)
    code, _, err = call(["translate", "-", "--source", "en", "--target", "de", "-e", "deepl"], b"The dog runs.")
    assert fake.requests == []  # was: the document and "Bearer <the DeepL key>" sent to the file's server
    assert code == 2 and "Traceback" not in err
    assert ("parallax.toml, line 2: [engines.deepl] 'deepl' is a built-in engine: a configuration file cannot "
            "redefine it") in err
    assert DEEPL_KEY not in err


@pytest.mark.parametrize("name", ["deepl", "libretranslate", "openai", "anthropic", "offline", "sim", "DeepL",
                                  "OpenAI"])
def test_no_built_in_engine_name_or_prefix_can_be_redefined(tmp_path, name):
    path = tmp_path / "parallax.toml"
    path.write_text(f'[engines.ollama]\nbase_url = "http://localhost:11434/v1"\nmodel = "m"\n\n'
                    f'[engines.{name}]\nbase_url = "http://localhost:8000/v1"\nmodel = "m"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path, env={})
    assert str(refused.value).startswith(f"{path}, line 5: [engines.{name}] '{name}' is a built-in engine")


def test_every_built_in_form_is_a_reserved_name():
    from parallax.config import BUILTIN_ENGINE_NAMES
    from parallax.engines.registry import FORMS

    firsts = {form.split()[0].split(":")[0] for form in FORMS} - {"NAME", "A|B|C"}
    assert firsts <= set(BUILTIN_ENGINE_NAMES)


@pytest.mark.parametrize("variable", ["AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                      "DEEPL_AUTH_KEY", "VLLM_API_KEY", "PARALLAX_DATABASE_URL"])
def test_api_key_env_cannot_name_another_programs_secret(fake, here, monkeypatch, variable):
    from tests.test_cli import call

    (here / "parallax.toml").write_text(f'[engines.box]\nbase_url = "{fake.openai_url}"\nmodel = "m"\n'
                                        f'api_key_env = "{variable}"\n')
    monkeypatch.setenv(variable, SECRET)
    code, _, err = call(["review", "-", "-e", "box", "-p", "legal"], b"hello")
    assert fake.requests == []  # was: "Authorization: Bearer <the secret>" sent to the file's base_url
    assert code == 2 and "Traceback" not in err and SECRET not in err
    assert ("parallax.toml, line 4: [engines.box] api_key_env = …: must name a variable set for Parallax: "
            "PARALLAX_…_API_KEY or PARALLAX_…_TOKEN") in err


def test_a_variable_marked_for_parallax_is_the_bearer_token(fake, here, monkeypatch):
    from tests.test_cli import call

    (here / "parallax.toml").write_text(f'[engines.box]\nbase_url = "{fake.openai_url}"\nmodel = "m"\n'
                                        'api_key_env = "PARALLAX_BOX_API_KEY"\n')
    monkeypatch.setenv("PARALLAX_BOX_API_KEY", SECRET)
    code, _, _ = call(["review", "-", "-e", "box", "-p", "legal"], b"hello")
    assert code == 0
    assert {k.lower(): v for k, v in fake.requests[0]["headers"].items()}["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(("url", "shown"), [
    ("http://127.0.0.1:9/v1\\r\\nX-Evil: 1", "'http://127.0.0.1:9/v1\\r\\nX-Evil: 1'"),
    ("http://127.0.0.1:9/v1\\nHost: evil", "'http://127.0.0.1:9/v1\\nHost: evil'"),
    ("http://127.0.0.1:9/v1 x", "'http://127.0.0.1:9/v1 x'"),
    ("http://127.0.0.1:9/v1\\t", "'http://127.0.0.1:9/v1\\t'"),
    ("http://127.0.0.1:9/v1\\u0000", "'http://127.0.0.1:9/v1\\x00'"),
    ("http://127.0.0.1:9/v1\\u007f", "'http://127.0.0.1:9/v1\\x7f'"),
    ("http://127.0.0.1:9/v1\\u0085", "'http://127.0.0.1:9/v1\\x85'"),
    (" http://127.0.0.1:9/v1", "' http://127.0.0.1:9/v1'"),
    ("http://127.0.0.1:99999/v1", "'http://127.0.0.1:99999/v1'"),
    ("http://127.0.0.1:port/v1", "'http://127.0.0.1:port/v1'"),
    ("http://:8000/v1", "'http://:8000/v1'"),
])
def test_a_base_url_that_is_not_a_clean_http_address_is_refused_when_the_file_is_read(here, url, shown):
    from tests.test_cli import call

    (here / "parallax.toml").write_text(f'[engines.x]\nmodel = "m"\nbase_url = "{url}"\n')
    code, _, err = call(["review", "-", "-e", "x", "-p", "legal"], b"hello")
    assert code == 2 and "Traceback" not in err  # was: exit 1 and httpx's InvalidURL traceback at the first call
    assert f"parallax.toml, line 3: [engines.x] base_url = {shown}: must be" in err


def test_a_base_url_with_a_user_name_and_password_is_refused_without_repeating_them(tmp_path):
    path = tmp_path / "parallax.toml"
    path.write_text('[engines.x]\nmodel = "m"\nbase_url = "https://me:hunter2@gpu-box:8000/v1"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path, env={})
    message = str(refused.value)
    assert message.startswith(f"{path}, line 3: [engines.x] base_url = …: must not carry a user name or password")
    assert "hunter2" not in message


def test_a_working_folder_file_with_engines_is_named_on_stderr(fake, here, monkeypatch):
    from tests.test_cli import call

    (here / "parallax.toml").write_text(f'[engines.box]\nbase_url = "{fake.openai_url}"\nmodel = "m"\n')
    code, out, err = call(["review", "-", "-e", "offline:rules", "-p", "legal"], b"hello")
    assert code == 0
    notice = (f"parallax: using {here / 'parallax.toml'} from the working folder; its engines send text to: "
              f"box → {fake.openai_url}")
    assert notice in err.splitlines() and notice not in out
    code, _, err = call(["review", "-", "-e", "offline:rules", "-p", "legal", "--config", "parallax.toml"], b"hi")
    assert code == 0 and "working folder" not in err  # named by the user: nothing to say
    monkeypatch.setenv("PARALLAX_CONFIG", "parallax.toml")
    code, _, err = call(["review", "-", "-e", "offline:rules", "-p", "legal"], b"hello")
    assert code == 0 and "working folder" not in err
    monkeypatch.delenv("PARALLAX_CONFIG")
    (here / "parallax.toml").write_text('[perspectives.tone]\nrubric = "Warm."\n')  # no engines: no servers
    code, _, err = call(["review", "-", "-p", "tone"], b"hello")
    assert code == 0 and "working folder" not in err


def test_a_working_folder_file_with_engines_is_named_in_the_app(here):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import shown_text

    (here / "parallax.toml").write_text('[engines.box]\nbase_url = "http://gpu-box:8000/v1"\nmodel = "m"\n')
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"),
                           default_timeout=30)
    at.run()
    assert not at.exception
    shown = shown_text(at.sidebar, kinds=("warning",))
    assert f"{here / 'parallax.toml'} from the working folder" in shown and "http://gpu-box:8000/v1" in shown
