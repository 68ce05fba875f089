"""Non-translations never win: markup-only replies, commentary around a translation, replies far too short or too
long, and copies of the source are flagged; names, numbers and code kept from the source do not make a copy;
gibberish that neither the language identifier nor another engine confirms is unverified. And none of the genuine
translations in tests/data/fidelity_genuine_pairs.json is flagged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from parallax.translate.fidelity import (
    is_copy,
    length_mismatch,
    non_translation,
    own_words,
    unverified,
    visible_text,
    weighted_letters,
)
from parallax.translate.metrics import agreement_matrix

PAIRS = json.loads((Path(__file__).parent / "data" / "fidelity_genuine_pairs.json").read_text(encoding="utf-8"))
GENUINE = PAIRS["pairs"]

SOURCE = "The new release makes every report load twice as fast and fixes the export of large tables to spreadsheets."
GERMAN = ("Die neue Version lädt jeden Bericht doppelt so schnell und behebt den Export großer Tabellen in "
          "Tabellenkalkulationen.")
GERMAN_TOO = ("Mit dem neuen Release werden alle Berichte doppelt so schnell geladen, außerdem wurde das Exportieren "
              "großer Tabellen in Tabellenkalkulationen korrigiert.")
FRENCH = ("La nouvelle version charge chaque rapport deux fois plus vite et corrige l'exportation des grands "
          "tableaux vers les tableurs.")
SPANISH = ("La nueva versión carga cada informe el doble de rápido y corrige la exportación de tablas grandes a hojas "
           "de cálculo.")
ITALIAN = ("La nuova versione carica ogni report due volte più velocemente e corregge l'esportazione di tabelle di "
           "grandi dimensioni nei fogli di calcolo.")
PORTUGUESE = ("A nova versão carrega cada relatório duas vezes mais rápido e corrige a exportação de tabelas grandes "
              "para planilhas.")
DUTCH = ("De nieuwe versie laadt elk rapport twee keer zo snel en verhelpt de export van grote tabellen naar "
         "spreadsheets.")
PRODUCT = "In PhotoStudio Pro 5.2, click `File > Export` and choose PNG (1920×1080)."
PRODUCT_DE = "Klicken Sie in PhotoStudio Pro 5.2 auf `File > Export` und wählen Sie PNG (1920×1080)."
COMMENTARY = "commentary, not only a translation"


def reversed_letters(text: str) -> str:
    """What the simulated engine writes: every word spelt backwards."""
    return " ".join(re.sub(r"\w+", lambda m: m.group()[::-1], w) for w in text.split())


# --- empty and markup-only replies ---------------------------------------------------------------------------


@pytest.mark.parametrize("reply,flag", [
    ("<p></p><br/>", "markup only"),
    ("<div>&nbsp;</div>", "markup only"),
    ("&nbsp;&#160;", "markup only"),
    ('<span class="x"> </span>\n<br>', "markup only"),
    ("<!-- translation -->", "markup only"),
    ("\u200b\n", "empty"),
    ("…", "empty"),
    ("**", "empty"),
])
def test_empty_and_markup_only_replies(reply, flag):
    assert non_translation(SOURCE, reply, "de") == flag


def test_markup_only_source_may_get_its_markup_back():
    assert non_translation("<br/>", "<br/>", "de") is None
    assert non_translation("<br/>", " ", "de") == "empty"
    assert visible_text("<p>Hallo&nbsp;<b>Welt</b></p>") == "\nHallo\xa0 Welt \n"


# --- commentary around a translation ---------------------------------------------------------------------------


@pytest.mark.parametrize("reply,target", [
    ("Hier ist die Übersetzung:\n\n" + GERMAN, "de"),
    ("Hier ist die Übersetzung ins Deutsche: " + GERMAN, "de"),
    ("Gerne! " + GERMAN, "de"),
    ("Gerne! Hier ist die deutsche Übersetzung:\n" + GERMAN, "de"),
    ("Natürlich. " + GERMAN, "de"),
    ("Here is the translation:\n" + GERMAN, "de"),
    ("Here's the German translation of your text:\n\n" + GERMAN, "de"),
    ("Sure! " + GERMAN, "de"),
    ("Translation: " + GERMAN, "de"),
    ("Übersetzung: " + GERMAN, "de"),
    ("**Deutsche Übersetzung:**\n" + GERMAN, "de"),
    ("Die Übersetzung lautet wie folgt:\n" + GERMAN, "de"),  # a line ending in ":" before the text
    (GERMAN + "\n\nNote: “Tabellenkalkulationen” is the usual German word for spreadsheets.", "de"),
    (GERMAN + "\n\nAnmerkung: „Release“ habe ich mit „Version“ wiedergegeben.", "de"),
    (GERMAN + " (Hinweis: wörtlich übersetzt.)", "de"),
    (GERMAN + "\n\nIch hoffe, das hilft!", "de"),
    (GERMAN + "\n\nI hope this helps! Let me know if you need any changes.", "de"),
    ("Es tut mir leid, aber ich kann diesen Text nicht übersetzen.", "de"),
    ("Leider kann ich diesen Text nicht übersetzen, da er unvollständig zu sein scheint.", "de"),
    ("I cannot translate this text.", "de"),
    ("I'm sorry, but I can't help with that.", "de"),
    (f'"{GERMAN}"', "de"),
    (f"„{GERMAN}“", "de"),
    (f"```\n{GERMAN}\n```", "de"),
    ("Voici la traduction :\n" + FRENCH, "fr"),
    ("Bien sûr ! Voici la traduction en français :\n\n" + FRENCH, "fr"),
    (FRENCH + "\n\nRemarque : « tableurs » désigne les logiciels comme Excel.", "fr"),
    ("¡Claro! Aquí tienes la traducción:\n" + SPANISH, "es"),
    ("Traducción: " + SPANISH, "es"),
    ("Lo siento, pero no puedo traducir este texto.", "es"),
    ("Ecco la traduzione:\n" + ITALIAN, "it"),
    (ITALIAN + "\n\nNota: ho tradotto «release» con «versione».", "it"),
    ("Aqui está a tradução:\n" + PORTUGUESE, "pt"),
    ("Claro! " + PORTUGUESE, "pt"),
    ("Hier is de vertaling:\n" + DUTCH, "nl"),
    (DUTCH + "\n\nOpmerking: ik heb „release” vertaald als „versie”.", "nl"),
])
def test_answers_and_commentary_are_not_only_a_translation(reply, target):
    assert non_translation(SOURCE, reply, target) == COMMENTARY


def test_a_long_document_is_read_for_commentary_at_its_ends():
    source, german = "\n".join([SOURCE] * 200), "\n".join([GERMAN] * 200)
    assert non_translation(source, german, "de") is None
    assert non_translation(source, "Hier ist die Übersetzung:\n" + german, "de") == COMMENTARY
    assert non_translation(source, german + "\n\nIch hoffe, das hilft!", "de") == COMMENTARY


@pytest.mark.parametrize("source,translation", [
    ("Note: back up your files before you update.", "Hinweis: Sichern Sie Ihre Dateien vor dem Update."),
    ("Important: the offer ends on Friday.", "Hinweis: Das Angebot endet am Freitag."),
    ("Here is the translation: the contract ends in May.", "Hier ist die Übersetzung: Der Vertrag endet im Mai."),
    ("I cannot translate this letter without a dictionary.", "Ich kann diesen Brief ohne Wörterbuch nicht übersetzen."),
    ("Sure! I will be there at eight.", "Gerne! Ich bin um acht da."),
    ("Yes, we deliver on Sundays too.", "Klar, wir liefern auch sonntags."),
    ('"Everything is fine," she said.', "„Alles ist in Ordnung“, sagte sie."),
    ('"Everything is fine."', "„Alles ist in Ordnung.“"),
    ("Steps:\n1. Open the app.\n2. Tap Sign in.", "Schritte:\n1. Öffnen Sie die App.\n2. Tippen Sie auf Anmelden."),
    ("Translation: the act of rendering a text in another language.",
     "Übersetzung: die Wiedergabe eines Textes in einer anderen Sprache."),
    ("I hope this helps you plan your trip.", "Ich hoffe, das hilft Ihnen bei der Planung Ihrer Reise."),
    ("Let me know when you arrive.", "Sag mir Bescheid, wenn du ankommst."),
    ("Unfortunately, I cannot attend.", "Leider kann ich nicht teilnehmen."),
    ("I left the keys on the table.", "Ich habe die Schlüssel auf dem Tisch liegen lassen."),
    ("We translated the manual last year.", "Ich habe das Handbuch letztes Jahr übersetzt."),
    ("Dear Anna,\nthe parcel has arrived.", "Liebe Anna:\ndas Paket ist angekommen."),
    ("ご不明な点がございましたら、お知らせください。", "Lassen Sie mich wissen, wenn Sie Fragen haben."),
    ("申し訳ありませんが、この商品は現在お届けできません。",
     "Es tut mir leid, aber ich kann diesen Artikel derzeit nicht liefern."),
])
def test_commentary_the_source_has_is_translated_not_added(source, translation):
    assert non_translation(source, translation, "de") is None


# --- too short, too long -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply,flag", [
    ("Die neue Version.", "too short for the source"),
    ("Die neue Version lädt Berichte.", "too short for the source"),
    (" ".join([GERMAN] * 4), "too long for the source"),
])
def test_replies_far_too_short_or_too_long(reply, flag):
    assert non_translation(SOURCE, reply, "de") == flag


def test_length_is_compared_in_weighted_letters_and_only_for_a_long_enough_source():
    assert length_mismatch("The dog runs fast.", "Hund.") is None  # 14 letters: a ratio says little
    assert weighted_letters("狗跑得很快") == 12.5 and weighted_letters("강아지") == 6.0
    assert weighted_letters("ねこ") == 2.0 and weighted_letters("Hund") == 4.0
    ja = next(p for p in GENUINE if p["target"] == "ja")
    assert length_mismatch(ja["source"], ja["translation"]) is None
    assert length_mismatch(ja["source"], ja["translation"][:8]) == "too short for the source"


# --- copies of the source, and names, numbers and code kept --------------------------------------------------


@pytest.mark.parametrize("source,translation", [
    (PRODUCT, PRODUCT_DE),
    ("Open PhotoStudio Pro 5.2 and export the image as PNG.", "Öffnen Sie PhotoStudio Pro 5.2 und exportieren Sie das "
     "Bild als PNG."),
    ("Set `max_workers = 8` in config.toml, then run `parallax batch docs.csv --out results.csv`.",
     "Setzen Sie `max_workers = 8` in config.toml und führen Sie dann `parallax batch docs.csv --out results.csv` "
     "aus."),
    ("See https://example.com/docs/api/v2 for the REST API of DataHub 3.0 (OAuth 2.0, JSON, HTTP/2).",
     "Die REST API von DataHub 3.0 (OAuth 2.0, JSON, HTTP/2) finden Sie unter https://example.com/docs/api/v2."),
])
def test_names_numbers_and_code_kept_from_the_source_are_not_a_copy(source, translation):
    assert non_translation(source, translation, "de") is None


@pytest.mark.parametrize("source,translation", [
    (SOURCE, SOURCE),
    (SOURCE, "  " + SOURCE.replace(" ", "\n", 3) + "  "),
    (SOURCE, SOURCE.replace("twice", "two times")),
    (PRODUCT, PRODUCT),
    (PRODUCT, PRODUCT.replace(",", "")),
    ("Click OK.", "Click OK."),
    ("Open the Settings app on your iPhone, tap Wi-Fi and choose the network called HomeNet 5G.",
     "Open the Settings app on your iPhone, tap Wi-Fi and choose the network called HomeNet 5G."),
    ("Open the Settings app on your iPhone, tap Wi-Fi and choose the network called HomeNet 5G.",
     "Open the Settings app on your iPhone, tap Wi-Fi and choose the network named HomeNet 5G."),
    ("Die neue Version lädt jeden Bericht doppelt so schnell.",
     "Die neue Version lädt jeden Bericht doppelt so schnell."),
    ("<p>Welcome back, <b>Anna</b>!</p>", "<p>Welcome back, <b>Anna</b>!</p>"),
])
def test_real_copies_are_still_copies(source, translation):
    assert non_translation(source, translation, "de") == "source copy"


def test_own_words_set_aside_what_both_share_and_a_translation_keeps():
    source_rest, translation_rest = own_words(PRODUCT, PRODUCT_DE)
    assert source_rest.split() == ["In", "click", "and", "choose"]
    assert translation_rest.split() == ["Klicken", "Sie", "in", "auf", "und", "wählen", "Sie"]
    assert not is_copy(PRODUCT, PRODUCT_DE) and is_copy(PRODUCT, PRODUCT)


def test_the_source_scrambled_or_paraphrased_is_in_the_wrong_language():
    assert non_translation(SOURCE, " ".join(reversed(SOURCE.split())), "de") == "wrong language (en)"
    assert non_translation("Open the Settings app on your iPhone, tap Wi-Fi and choose the network called HomeNet 5G.",
                           "Open the Settings app on the iPhone, tap Wi-Fi and select the network named HomeNet 5G.",
                           "de") == "wrong language (en)"


# --- unverified: neither the identifier nor another engine confirms it ----------------------------------------


def test_reversed_word_gibberish_is_unverified_and_a_real_translation_verified():
    gibberish = "[simulated de] " + reversed_letters(SOURCE)
    assert non_translation(SOURCE, gibberish, "de") is None  # not flagged: it may not be shown as one
    matrix = agreement_matrix({"sim": gibberish, "a": GERMAN, "b": GERMAN_TOO})
    assert max(matrix["sim"].values()) < 30
    assert unverified(gibberish, "de", matrix["sim"], SOURCE)
    assert unverified(gibberish, "de", None)
    assert not unverified(GERMAN, "de", matrix["a"], SOURCE)
    assert not unverified(GERMAN, "de", None)  # the identifier alone confirms it
    assert unverified(reversed_letters(GERMAN), "de", {"a": 19.0})


def test_short_or_unidentifiable_candidates_are_verified_by_agreement():
    assert unverified("Der Hund läuft schnell.", "de", None)  # too few letters to identify, nothing agrees
    assert not unverified("Der Hund läuft schnell.", "de", {"b": 61.5})
    assert unverified(PRODUCT_DE, "de", {"b": 12.0}, PRODUCT)  # its own words are too few once names are aside
    assert not unverified(PRODUCT_DE, "de", {"b": 80.0}, PRODUCT)


def test_two_engines_with_the_same_gibberish_confirm_each_other():
    """Documented: agreement is taken at its word; two identical simulated engines verify each other."""
    gibberish = "[simulated de] " + reversed_letters(SOURCE)
    matrix = agreement_matrix({"x": gibberish, "y": gibberish.replace("ehT", "~ehT~")})
    assert not unverified(gibberish, "de", matrix["x"])


# --- genuine translations are never flagged -------------------------------------------------------------------


def test_the_genuine_set_covers_the_language_pairs():
    pairs = {(p["source_lang"], p["target"]) for p in GENUINE}
    assert len(GENUINE) >= 30
    assert {("en", t) for t in ("de", "fr", "es", "it", "pt", "nl", "ja", "zh")} | {("de", "en")} <= pairs


@pytest.mark.parametrize("pair", GENUINE, ids=[f"{p['source_lang']}-{p['target']}-{i}" for i, p in enumerate(GENUINE)])
def test_genuine_translations_are_never_flagged(pair):
    assert non_translation(pair["source"], pair["translation"], pair["target"]) is None


@pytest.mark.parametrize("pair", GENUINE, ids=[f"{p['source_lang']}-{p['target']}-{i}" for i, p in enumerate(GENUINE)])
def test_genuine_translations_are_verified_given_another_genuine_one(pair):
    others = [p["translation"] for p in GENUINE if p["target"] == pair["target"] and p is not pair]
    matrix = agreement_matrix({"this": pair["translation"], **{str(i): t for i, t in enumerate(others)}})
    alone = unverified(pair["translation"], pair["target"], None, pair["source"])
    # Only a candidate whose own words are too few for the identifier needs another engine to agree.
    assert alone == (weighted_letters(own_words(pair["source"], pair["translation"])[1]) < 40)
    same = {"other": 100.0}  # an engine that says the same
    assert not unverified(pair["translation"], pair["target"], same, pair["source"])
    assert set(matrix["this"]) == {str(i) for i in range(len(others))}
