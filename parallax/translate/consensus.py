"""A consensus translation: for every source segment, the candidate that agrees most with the others (minimum Bayes
risk with chrF as the utility, as in consensus decoding; Freitag et al. 2022), or the judge's best-scored one when
the judge scored the segments. Non-translations are never chosen. Exported as text, DOCX and JSON provenance."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from parallax.results import BranchResult


@dataclass
class Pick:
    """One segment of the consensus: which engine's text, why, and whether the user changed it."""

    segment: int
    source: str
    engine: str  # the branch id it came from ("edited" once the user wrote their own)
    text: str
    utility: float | None  # the expected chrF against the others, or the judge's score
    edited: bool = False


@dataclass
class Consensus:
    picks: list[Pick]
    utility: str  # "chrF agreement (minimum Bayes risk)" or "judge score"
    candidates: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.picks if p.text)

    def provenance(self) -> str:
        """JSON: the final text and, per segment, where it came from."""
        return json.dumps({"utility": self.utility, "candidates": self.candidates, "text": self.text,
                           "segments": [asdict(p) for p in self.picks]}, ensure_ascii=False, indent=2)

    def with_choice(self, segment: int, engine: str, results: list[BranchResult]) -> Consensus:
        """The same consensus with one segment taken from another engine."""
        chosen = next(r for r in results if r.branch_id == engine)
        picks = [Pick(p.segment, p.source, engine, chosen.segments[segment], None) if p.segment == segment else p
                 for p in self.picks]
        return Consensus(picks, self.utility, self.candidates)

    def with_edit(self, segment: int, text: str) -> Consensus:
        picks = [Pick(p.segment, p.source, "edited", text, None, True) if p.segment == segment else p
                 for p in self.picks]
        return Consensus(picks, self.utility, self.candidates)


def consensus(units: list[str], results: list[BranchResult]) -> Consensus | None:
    """None when fewer than two real translations were aligned (nothing to choose between)."""
    real = [r for r in results if r.ok and r.segments and not r.non_translation]
    if len(real) < 2 or not units:
        return None
    judged = all(r.segment_scores and all(v is not None for v in r.segment_scores) for r in real)
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    picks = []
    for n, source in enumerate(units):
        texts = {r.branch_id: r.segments[n] for r in real}
        if judged:
            scores = {r.branch_id: float(r.segment_scores[n] or 0.0) for r in real}
        else:
            scores = {b: sum(chrf.sentence_score(t, [texts[o]]).score for o in texts if o != b) / (len(texts) - 1)
                      for b, t in texts.items()}
        # Highest utility; ties go to the candidate declared first (stable, whatever the arrival order).
        best = max(texts, key=lambda b: (scores[b], -list(texts).index(b)))
        picks.append(Pick(n, source, best, texts[best], round(scores[best], 2)))
    return Consensus(picks, "judge score" if judged else "chrF agreement (minimum Bayes risk)",
                     [r.branch_id for r in real])


_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_docx(text: str) -> bytes:
    """A minimal Word document (one paragraph per line), written with the standard library."""
    paragraphs = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(_NOT_IN_XML.sub("", line))}</w:t></w:r></w:p>'
                         for line in text.splitlines() or [""])
    files: dict[str, Any] = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.'
        'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
        'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
        'org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://'
        f'schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{paragraphs}</w:body></w:document>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
