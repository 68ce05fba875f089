"""Engines' short display names: what a column header, a chip and a chart axis show (the full id on hover)."""

from __future__ import annotations

from components.names import display_name, display_names
from parallax.config import load_config


def test_a_short_name_drops_the_provider_and_the_options():
    assert display_name("sim:quick?latency=0.3&tokens=60&rate=60") == "quick"
    assert display_name("openai:gpt-4o-mini") == "gpt-4o-mini"
    assert display_name("anthropic:claude-haiku-4-5") == "claude-haiku-4-5"
    assert display_name("offline:rules") == "Keyword checks (offline)"
    assert display_name("sim:down?fail=error|sim:backup?latency=0.3") == "down → backup"
    assert display_name("ollama") == "ollama"


def test_names_that_would_read_alike_say_more():
    names = display_names(["sim:a?latency=1", "sim:a?latency=2", "openai:gpt-4o", "anthropic:gpt-4o", "sim:b"])
    assert names == {"sim:a?latency=1": "a (latency=1)", "sim:a?latency=2": "a (latency=2)",
                     "openai:gpt-4o": "gpt-4o (openai)", "anthropic:gpt-4o": "gpt-4o (anthropic)", "sim:b": "b"}
    assert len(set(display_names(["sim:x?a=1", "sim:x?a=1&b=2", "sim:x?b=2&a=1"]).values())) == 3


def test_a_named_engine_shows_the_label_its_table_gives(tmp_path):
    path = tmp_path / "parallax.toml"
    path.write_text('[engines.box]\nbase_url = "http://localhost:8000/v1"\nmodel = "m"\nlabel = "Llama (box)"\n')
    config = load_config(path, env={})
    labels = {name: spec.label for name, spec in config.engines.items() if spec.label}
    assert display_names(["box", "sim:quick"], labels) == {"box": "Llama (box)", "sim:quick": "quick"}
