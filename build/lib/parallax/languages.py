"""Language codes users may ask for, and which pairs each translation service accepts."""

from __future__ import annotations

LANGUAGES = {
    "ar": "Arabic", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "fi": "Finnish", "fr": "French", "he": "Hebrew",
    "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean",
    "lt": "Lithuanian", "lv": "Latvian", "nb": "Norwegian Bokmål", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sv": "Swedish",
    "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}
# DeepL's documented source languages; as targets it also takes these (en and pt need a variant, below).
DEEPL = frozenset("ar bg cs da de el en es et fi fr hu id it ja ko lt lv nb nl pl pt ro ru sk sl sv tr uk zh".split())
DEEPL_TARGET_VARIANT = {"en": "EN-US", "pt": "PT-PT"}


def language_name(code: str) -> str:
    return LANGUAGES.get(code, code)


def check_language(code: str, role: str) -> str:
    """Normalise a language code; raise ValueError naming the choices for an unknown one."""
    normal = code.strip().lower().split("-")[0]
    if normal not in LANGUAGES:
        raise ValueError(f"unknown {role} language {code!r}; use a code such as: {', '.join(sorted(LANGUAGES))}")
    return normal


def check_pair(source: str, target: str) -> tuple[str, str]:
    source, target = check_language(source, "source"), check_language(target, "target")
    if source == target:
        raise ValueError(f"source and target are both {language_name(source)}: choose a different target")
    return source, target


def deepl_supports(source: str, target: str) -> bool:
    return source in DEEPL and target in DEEPL
