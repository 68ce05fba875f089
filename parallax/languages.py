"""Language tags users may ask for (BCP 47 through `langcodes`: pt-BR, zh-Hant and en-GB keep their variant), and
the codes each translation service takes."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import langcodes  # imported when a tag is first read: its tables take ~40 ms, which a review never needs

LANGUAGES = {
    "ar": "Arabic", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "fi": "Finnish", "fr": "French", "he": "Hebrew",
    "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean",
    "lt": "Lithuanian", "lv": "Latvian", "nb": "Norwegian Bokmål", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sv": "Swedish",
    "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}
# The tags the pages offer: every language, and the variants translation services tell apart.
VARIANTS = ("en-GB", "en-US", "pt-BR", "pt-PT", "zh-Hans", "zh-Hant")


def offered_languages() -> list[str]:
    """Every language and its common variants, in the order of their names (for the pages' pickers)."""
    return sorted([*LANGUAGES, *VARIANTS], key=language_name)


# DeepL's documented languages, used when its server cannot be asked (`get_target_languages()`).
DEEPL_SOURCES = frozenset("AR BG CS DA DE EL EN ES ET FI FR HU ID IT JA KO LT LV NB NL PL PT RO RU SK SL SV TR UK "
                          "ZH".split())
DEEPL_TARGETS = (DEEPL_SOURCES - {"EN", "PT", "ZH"}) | {"EN-GB", "EN-US", "PT-BR", "PT-PT", "ZH", "ZH-HANS", "ZH-HANT"}
DEEPL_DEFAULT_REGION = {"en": "EN-US", "pt": "PT-PT"}  # DeepL needs a variant for these targets
_SCRIPTS = {"Hans": "Simplified", "Hant": "Traditional", "Latn": "Latin", "Cyrl": "Cyrillic"}


@lru_cache(maxsize=256)
def _parse(tag: str) -> langcodes.Language:
    import langcodes

    return langcodes.Language.get(tag)


def language_name(tag: str) -> str:
    """"Portuguese (BR)", "Chinese (Traditional)", "German"."""
    language = _parse(tag)
    name = LANGUAGES.get(language.language or "", tag)
    variant = language.territory or (_SCRIPTS.get(language.script or "", language.script) if language.script else None)
    return f"{name} ({variant})" if variant else name


def check_language(code: str, role: str) -> str:
    """A standard tag for a language we offer (its variant kept: pt-br → pt-BR, zh-hant → zh-Hant); ValueError
    naming the choices for an unknown one."""
    import langcodes

    try:  # a real tag is short (BCP 47 tags in use are under 35 characters); the parser recurses per subtag
        tag = langcodes.standardize_tag(code.strip()) if len(code) <= 64 else ""
    except (ValueError, RecursionError, langcodes.tag_parser.LanguageTagError):
        tag = ""
    if not tag or _parse(tag).language not in LANGUAGES:
        raise ValueError(f"unknown {role} language {code[:40]!r}; use a code such as: {', '.join(sorted(LANGUAGES))} "
                         "(with a variant if you need one: pt-BR, en-GB, zh-Hant)")
    return tag


def check_pair(source: str, target: str) -> tuple[str, str]:
    source, target = check_language(source, "source"), check_language(target, "target")
    if source == target:
        raise ValueError(f"source and target are both {language_name(source)}: choose a different target")
    return source, target


def deepl_code(tag: str, role: str) -> str:
    """DeepL's code: a source is the bare language (EN); a target keeps its variant (EN-GB, PT-BR, ZH-HANT)."""
    language = _parse(tag)
    base = (language.language or "").upper()
    if role == "source":
        return base
    if base == "ZH":
        traditional = language.script == "Hant" or language.territory in ("TW", "HK", "MO")
        return "ZH-HANT" if traditional else "ZH-HANS"
    if language.territory:
        return f"{base}-{language.territory}"
    return DEEPL_DEFAULT_REGION.get(language.language or "", base)


def libretranslate_code(tag: str, offered: set[str]) -> str:
    """LibreTranslate's code: the whole tag if the server offers it (zh-Hant, pt-BR), else the bare language."""
    return tag if tag in offered else _parse(tag).language or tag
