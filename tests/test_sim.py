from __future__ import annotations

import pytest

from parallax.config import load_config
from parallax.engines.registry import EngineError, resolve_engine
from parallax.engines.sim import parse_sim
from tests.conftest import run


def test_parse_options():
    s = parse_sim("fast?latency=0.1&tokens=5&rate=100&fail=truncate&score=8.5")
    assert (s.label, s.latency, s.tokens, s.rate, s.fail, s.score) == ("fast", 0.1, 5, 100.0, "truncate", 8.5)
    assert parse_sim("plain").latency == 0.5


@pytest.mark.parametrize(
    "spec,message",
    [
        ("x?speed=3", "unknown sim option 'speed'"),
        ("x?latency=soon", "sim option latency='soon' is not valid"),
        ("x?tokens=0", "tokens ≥ 1"),
        ("x?score=11", "between 0 and 10"),
        ("?latency=1", "needs a label"),
    ],
)
def test_bad_options_are_engine_errors(spec, message):
    with pytest.raises(EngineError, match=message):
        resolve_engine(f"sim:{spec}", load_config(env={}))


def test_streams_the_requested_tokens_deterministically_and_says_it_is_simulated():
    config = load_config(env={})
    a = run(config, ["sim:a?latency=0&tokens=12&rate=1000&score=6.5"]).ordered()[0]
    b = run(config, ["sim:a?latency=0&tokens=12&rate=1000&score=6.5"]).ordered()[0]
    assert (a.status, a.score, a.output_tokens, a.cost_usd) == ("ok", 6.5, 12, 0.0)
    assert a.summary.startswith("[simulated]") and a.text == b.text


@pytest.mark.parametrize(
    "fail,status,message",
    [
        ("error", "error", "Simulated: server error (HTTP 500) after 1 attempt"),
        ("ratelimit", "error", "Simulated: rate limited after 1 attempt"),
        ("truncate", "truncated", "Simulated: the stream ended before its final event"),
        ("timeout", "timeout", "Simulated: no complete answer within the 0.3 s deadline"),
    ],
)
def test_failures(fail, status, message):
    r = run(load_config(env={}), [f"sim:x?latency=0&tokens=10&rate=200&fail={fail}"], timeout_s=0.3).ordered()[0]
    assert (r.status, r.error, r.score) == (status, message, None)
    if fail in ("truncate", "timeout"):
        assert r.text  # half the tokens arrived and are kept
