"""Suggested perspectives: offline vocabulary rules, an LLM through the fake server, and the CLI's TOML."""

from __future__ import annotations

import asyncio
import io
import json

from parallax import cli
from parallax.config import load_config
from parallax.review.suggest import suggest_offline, suggest_perspectives
from tests.fakes.provider_server import ok
from tests.test_cli import Stdin

PRIVACY_POLICY = ("We collect personal data such as your e-mail address and use cookies for tracking. Data is kept "
                  "for two years (retention) and you may withdraw consent. Passwords are encrypted. These terms "
                  "and our liability are governed by the law of Ireland.")


def test_offline_suggestions_follow_the_documents_vocabulary():
    names = [s.perspective.name for s in suggest_offline(PRIVACY_POLICY)]
    assert names[0] == "privacy" and {"security", "legal"} <= set(names)
    why = suggest_offline(PRIVACY_POLICY)[0].why
    assert "'personal data'" in why
    assert [s.perspective.name for s in suggest_offline("Hello there.")] == ["clarity"]


def test_an_llm_proposes_and_its_perspectives_are_used(fake, config):
    fake.enqueue("planner", ok(json.dumps({"perspectives": [
        {"name": "Data Protection", "description": "GDPR compliance", "rubric": "- Lawful basis is named.",
         "why": "it is a privacy policy"},
        {"name": "plain-language", "description": "readability", "rubric": "- Short sentences.", "why": "users"},
    ]})))
    suggestions, note = asyncio.run(suggest_perspectives(PRIVACY_POLICY, config, "openai:planner"))
    assert note is None and [s.perspective.name for s in suggestions] == ["data-protection", "plain-language"]
    body = fake.requests[0]["body"]
    assert body["response_format"]["json_schema"]["name"] == "perspectives"
    assert "<document>" in body["messages"][1]["content"]


def test_an_unreadable_proposal_falls_back_to_the_offline_rules(fake, config):
    fake.enqueue("planner", ok("Sure! Privacy and security."), ok("Still prose."))
    suggestions, note = asyncio.run(suggest_perspectives(PRIVACY_POLICY, config, "openai:planner"))
    assert suggestions[0].perspective.name == "privacy"
    assert note is not None and "offline rules suggested these instead" in note


def test_cli_prints_toml_that_parallax_can_load(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["suggest", "-"], stdin=Stdin(PRIVACY_POLICY.encode()), out=out, err=err) == 0
    (tmp_path / "parallax.toml").write_text(out.getvalue())
    config = load_config(tmp_path / "parallax.toml", env={})
    assert {"privacy", "security", "legal"} <= set(config.perspectives)
    assert config.perspectives["privacy"].rubric.startswith("- Says what personal data")
