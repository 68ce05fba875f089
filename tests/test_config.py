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
