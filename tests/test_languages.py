"""Language tags keep their variant (pt-BR, zh-Hant, en-GB) all the way to the service, and a pair a service
cannot do — by the list the service itself publishes — is refused before any translation is sent."""

from __future__ import annotations

import asyncio

import pytest

from parallax.documents import InputError
from parallax.languages import check_language, check_pair, language_name
from parallax.run.execute import execute
from parallax.run.plan import plan_translate
from parallax.translate.request import TranslationSettings
from tests.test_translate import SOURCE, tconfig  # noqa: F401 - the fixture


@pytest.mark.parametrize(("typed", "tag", "name"), [
    ("pt-br", "pt-BR", "Portuguese (BR)"), ("zh-hant", "zh-Hant", "Chinese (Traditional)"),
    ("en_GB", "en-GB", "English (GB)"), ("DE", "de", "German"), ("iw", "he", "Hebrew"),
])
def test_a_language_tag_keeps_its_variant(typed, tag, name):
    assert check_language(typed, "target") == tag and language_name(tag) == name


def test_unknown_tags_and_same_language_pairs_are_refused():
    with pytest.raises(ValueError, match="unknown target language 'klingon'; use a code such as: ar, bg"):
        check_language("klingon", "target")
    with pytest.raises(ValueError, match="source and target are both Portuguese \\(BR\\)"):
        check_pair("pt-BR", "pt-br")
    assert check_pair("en-US", "en-GB") == ("en-US", "en-GB")  # localising a text is a translation too


def translations_sent(fake, tconfig, engine: str, target: str) -> list[dict]:  # noqa: F811
    plan = plan_translate(SOURCE, tconfig, TranslationSettings("en", target, judge=None), [engine])
    (result,) = asyncio.run(execute(plan)).ordered()
    assert result.status == "ok", result.error
    return [r["body"] for r in fake.requests if r["model"] == engine]


@pytest.mark.parametrize(("target", "sent"), [("pt-BR", "PT-BR"), ("zh-Hant", "ZH-HANT"), ("en-GB", "EN-GB"),
                                              ("pt", "PT-PT"), ("zh", "ZH-HANS"), ("fr", "FR")])
def test_deepl_gets_the_variant_the_user_asked_for(fake, tconfig, target, sent):  # noqa: F811
    source = "de" if target.startswith("en") else "en"
    plan = plan_translate(SOURCE, tconfig, TranslationSettings(source, target, judge=None), ["deepl"])
    (result,) = asyncio.run(execute(plan)).ordered()
    (body,) = [r["body"] for r in fake.requests if r["model"] == "deepl"]
    assert result.status == "ok" and body["target_lang"] == sent and body["source_lang"] == source.upper()


def test_libretranslate_gets_a_variant_its_server_offers(fake, tconfig):  # noqa: F811
    (body,) = translations_sent(fake, tconfig, "libretranslate", "zh-Hant")
    assert (body["source"], body["target"]) == ("en", "zh-Hant")


@pytest.mark.parametrize(("engine", "source", "target", "message"), [
    ("deepl", "en", "ko", "DeepL does not translate into Korean"),  # documented, but not on this account's list
    ("deepl", "en", "en-AU", None),  # same language: refused earlier
    ("deepl", "de", "en-AU", "DeepL does not translate into English (AU); it offers EN-GB, EN-US"),
    ("deepl", "ko", "en-GB", "DeepL does not translate from Korean"),
    ("libretranslate", "de", "ja", "this LibreTranslate server does not translate German → Japanese"),
    ("libretranslate", "fr", "en", "this LibreTranslate server does not translate from French"),
])
def test_a_pair_the_service_cannot_do_costs_nothing(fake, tconfig, engine, source, target, message):  # noqa: F811
    settings = TranslationSettings(source, target, judge=None)
    with pytest.raises(InputError) as refused:
        plan_translate(SOURCE, tconfig, settings, [engine])
    if message:
        assert str(refused.value) == message
    assert not [r for r in fake.requests if r["model"] == engine]  # no translation was sent


def test_the_language_list_is_asked_once_and_an_unreachable_service_falls_back(fake, tconfig):  # noqa: F811
    for _ in range(3):
        plan_translate(SOURCE, tconfig, TranslationSettings("en", "de", judge=None), ["deepl", "libretranslate"])
    asked = [path.partition("?")[0] for path in fake.lookups]
    assert sorted(asked) == ["/languages", "/v2/languages", "/v2/languages"]  # sources, targets: once each
    from parallax.config import load_config
    offline = load_config(env={"DEEPL_AUTH_KEY": "deepl-test-key-0123456789:fx",
                               "DEEPL_SERVER_URL": "http://127.0.0.1:9"})  # nothing listens: the documented list
    with pytest.raises(InputError, match="DeepL does not translate from Hebrew"):
        plan_translate(SOURCE, offline, TranslationSettings("he", "de", judge=None), ["deepl"])
    plan_translate(SOURCE, offline, TranslationSettings("en", "pt-BR", judge=None), ["deepl"])
