"""The offline reviewer on texts written for it: real checks, quoted findings, sensible scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from parallax.engines.offline import LABEL, flesch_reading_ease, review

RELEASE_NOTES = (
    "Version 2.3 cuts start-up time from 4.1 s to 1.2 s. The export dialog now remembers the last folder. "
    "Fixed a crash when opening files larger than 2 GB. You can upgrade today from the download page."
)
RISKY_TERMS = (
    "We guarantee 100% uptime, always. You waive all claims and we are not liable for any loss. "
    "Contact jane.doe@example.com or +1 415-555-0199. Unlimited storage forever, at your own risk."
)
JARGON = (
    "The new KVS layer is significantly faster and the RPC path was optimised, etc. "
    "Notwithstanding the aforementioned considerations regarding the implementation of the asynchronous "
    "replication subsystem, administrators should contemplate the ramifications of misconfiguration "
    "before initiating the synchronisation procedure across heterogeneous deployment topologies in every "
    "region and every environment that the organisation operates today."
)
FLUFF = "We think this might perhaps be a somewhat interesting idea for the future."


def notes(judgement):
    return [f.note for f in judgement.issues]


def test_legal_risk_scores_clearly_lower_than_release_notes():
    risky, plain = review(RISKY_TERMS, "legal"), review(RELEASE_NOTES, "legal")
    assert plain.score == 10 and risky.score <= 3
    quotes = [f.quote for f in risky.issues]
    assert "jane.doe@example.com" in quotes and "+1 415-555-0199" in quotes
    assert any("Absolute promise: 'guarantee'" in n for n in notes(risky))
    assert any("'waive'" in n for n in notes(risky))
    assert all(q in RISKY_TERMS for q in quotes)  # every quote is the text's own words


def test_technical_checks_find_acronyms_vague_claims_and_long_sentences():
    j = review(JARGON, "technical")
    found = " ".join(notes(j))
    assert "'KVS' is not defined" in found and "'RPC' is not defined" in found
    assert "'faster' claims a change without a figure" in found
    assert "Long sentence" in found
    assert "Vague wording: 'etc'" in found or "Vague wording: 'significantly'" in found
    assert j.score < review(RELEASE_NOTES, "technical").score


def test_defined_acronym_is_not_flagged():
    j = review("The key-value store (KVS) answers in 3 ms. The KVS is replicated.", "technical")
    assert not any("KVS" in n for n in notes(j))


def test_business_wants_value_numbers_and_a_call_to_action():
    weak, strong = review(FLUFF, "business"), review(RELEASE_NOTES + " Teams save 20 minutes a day.", "business")
    assert any("No call to action" in n for n in notes(weak))
    assert any("No numbers" in n for n in notes(weak))
    assert any("Hedging: 'might'" in n for n in notes(weak))
    assert strong.score > weak.score + 3


def test_judgement_says_it_is_not_ai_and_custom_perspectives_get_general_checks():
    j = review(FLUFF, "accessibility")
    assert j.summary.startswith(LABEL)
    assert "No checks specific to 'accessibility'" in j.summary
    assert 0 <= j.score <= 10


def test_readability():
    easy = flesch_reading_ease("The cat sat on the mat. It was warm.")
    hard = flesch_reading_ease(JARGON)
    assert easy is not None and hard is not None and easy > 80 > 20 > hard
    assert flesch_reading_ease("123 456") is None


ACRONYMS = ("The KVS, RPC, DLP, SSO, MFA, IAM, WAF and CDN layers are faster and cheaper. We guarantee the SLA, "
            "always. You waive all claims; we are not liable. Contact jane.doe@example.com or +1 415-555-0199.")


def test_the_same_text_gets_the_same_judgement_in_every_process():
    """Deterministic where it matters: across processes (a page rerun, the CLI, a batch worker, CI). Python hashes
    strings differently in each process, so a check that walked a set of words would pick or order its findings
    differently from one process to the next; each process here gets another hash seed."""
    cases = [(text, perspective) for text in (RISKY_TERMS, JARGON, ACRONYMS, RELEASE_NOTES)
             for perspective in ("legal", "technical", "business", "marketing")]
    code = ("import json, sys\nfrom parallax.engines.offline import review\n"
            "print(json.dumps([review(t, p).to_json() for t, p in json.load(sys.stdin)]))")
    here = [review(text, perspective).to_json() for text, perspective in cases]
    for seed in ("1", "2", "3"):
        done = subprocess.run([sys.executable, "-c", code], input=json.dumps(cases), capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(done.stdout) == here, f"PYTHONHASHSEED={seed}"


def test_keyword_checks_report_no_confidence_and_the_card_claims_none():
    from components.live import score_caption
    from parallax.results import BranchResult

    judgement = review(RISKY_TERMS, "legal")
    assert judgement.confidence is None  # no model: a fixed number would read as the model's own certainty
    result = BranchResult("legal@offline:rules", 0, "offline:rules", "legal")
    result.score, result.confidence = judgement.score, judgement.confidence
    assert "confidence" not in score_caption(result)
