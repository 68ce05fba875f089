"""Configuration that says when it is wrong: placeholder keys, the secrets example."""

from __future__ import annotations


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
