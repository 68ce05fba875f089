"""Translating, and judging translations: the request, the judge, metrics, fidelity checks, the assessment."""
