"""Short display names for engines: what a column header, a chip, a table row or a chart axis shows. The full id
stays on hover and in every export. No Streamlit here: charts and tests use it too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

KNOWN = {"offline:rules": "Keyword checks (offline)", "offline:pseudo": "Pseudo-localisation",
         "deepl": "DeepL", "libretranslate": "LibreTranslate"}


def display_name(engine_id: str, labels: Mapping[str, str] | None = None) -> str:
    """`sim:quick?latency=0.3…` → `quick`, `openai:gpt-4o-mini` → `gpt-4o-mini`, a named engine by the label its
    parallax.toml table gives (else its name), a fallback chain `A|B` → `A → B`."""
    if labels and engine_id in labels:
        return labels[engine_id]
    if "|" in engine_id:
        return " → ".join(display_name(part, labels) for part in engine_id.split("|"))
    if engine_id in KNOWN:
        return KNOWN[engine_id]
    provider, colon, rest = engine_id.partition(":")
    name = (rest if colon else provider).split("?", 1)[0]
    return name or engine_id


def _fuller(engine_id: str, labels: Mapping[str, str] | None) -> str:
    """A name that says more when two engines would read alike: a demo's options, else its provider."""
    if "|" in engine_id:
        return " → ".join(_fuller(part, labels) for part in engine_id.split("|"))
    name = display_name(engine_id, labels)
    provider, colon, rest = engine_id.partition(":")
    options = rest.partition("?")[2]
    if options:
        return f"{name} ({options.replace('&', ', ')})"
    return f"{name} ({provider})" if colon else name


def display_names(engine_ids: Iterable[str], labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """A distinct short name for each engine: two that would read alike say more (their options or provider), and
    if they still do, their full ids. A list keeps a selection by its label, so the names must differ."""
    ids = list(dict.fromkeys(engine_ids))
    names = {e: display_name(e, labels) for e in ids}
    for make in (lambda e: _fuller(e, labels), lambda e: e):
        seen: dict[str, int] = {}
        for name in names.values():
            seen[name] = seen.get(name, 0) + 1
        names = {e: make(e) if seen[name] > 1 else name for e, name in names.items()}
    return names
