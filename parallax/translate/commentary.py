"""Answers and commentary around a translation: a preamble ("Here is the translation:", "Gerne! …"), labels
("Translation:", "Original:"), notes ("Note: …", "Anmerkung: …"), an afterword ("I hope this helps"), a refusal
("I cannot translate …"), or the whole text put in quotes. Patterns cover English, German, French, Spanish, Italian,
Portuguese and Dutch, whatever the target; every kind is counted in the source too, so a translation that only
renders a sentence of the source ("Note: …" → "Hinweis: …") is not commentary."""

from __future__ import annotations

import re
from collections import Counter

_LEAD = re.compile(r"^[\s>*_#~•·\-–—]*")  # markdown decoration before a line's first word
_ENDS, _ENDS_CHARS = 6, 400  # lines read at each end of a text, characters at each end of a line


def _any(*patterns: str, end: str = "") -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(f"(?:{p})" for p in patterns) + ")" + end, re.IGNORECASE)


# The reply opens with an interjection, as a chat assistant does ("Sure!", "Gerne!").
_OPENER = _any(r"(?:sure|certainly|of course|absolutely|okay|ok|gladly|no problem|with pleasure|happy to help)",
               r"(?:gerne?|natürlich|klar|selbstverständlich|kein problem|aber gerne?|sehr gerne?)",
               r"(?:bien sûr|certainement|avec plaisir|volontiers|d'accord|pas de problème|entendu)",
               r"¡?(?:claro(?: que sí)?|por supuesto|desde luego|con (?:mucho )?gusto|sin problema|de acuerdo)",
               r"(?:certo|certamente|volentieri|nessun problema|d'accordo|con piacere)",
               r"(?:com certeza|com prazer|sem problema|pois não)",
               r"(?:natuurlijk|zeker|graag|geen probleem|uiteraard)", end=r"\s*[!.,:]")
_SHORT_OPENING = re.compile(r"^\W*\w+(?:[\s'’-]+\w+){0,2}\s*[!,.:]")  # "Yes," / "Hello there!" in a source

# A line that announces the translation.
_INTRO = _any(r"here(?:'s| is| are| you go)\b.{0,60}\btranslat", r"(?:below|following) is\b.{0,40}\btranslat",
              r"\b(?:the|a|my) (?:\w+ )?translation (?:is|reads|would be|could be)\s*:",
              r"\btranslat(?:ed|ion) (?:in|into|to) \w+\s*:", r"hier (?:ist|sind|die|kommt|folgt)\b.{0,60}übersetz",
              r"\b(?:die|eine|meine) (?:\w+ )?übersetzung (?:lautet|ist|wäre)\s*:", r"voici\b.{0,60}\btradu",
              r"\bla traduction (?:est|serait|donne)\s*:",
              r"aquí (?:está|están|tienes|tiene|va|te dejo|le dejo)\b.{0,60}\btraduc",
              r"\bla traducción (?:es|sería)\s*:",
              r"ecco\b.{0,60}\btradu", r"\bla traduzione (?:è|sarebbe)\s*:",
              r"aqui (?:está|estão|vai|segue)\b.{0,60}\btradu", r"\bsegue\b.{0,40}\btradu",
              r"\ba tradução (?:é|seria)\s*:",
              r"hier (?:is|zijn|volgt)\b.{0,60}\bvertal", r"\bde vertaling (?:is|luidt|zou zijn)\s*:")

# A label at a line's start: "Translation:", "Deutsche Übersetzung:", "Original:".
_LABEL = _any(r"(?:[\w'’]+ ){0,2}(?:translation|translated text|übersetzung|übersetzter text|traduction|texte traduit"
              r"|traducción|texto traducido|traduzione|testo tradotto|tradução|texto traduzido|vertaling"
              r"|vertaalde tekst)(?: (?:in|into|to|ins|auf|en|al|para|para o|naar|naar het)(?: \w+){1,2})?\s*[:：]",
              r"(?:original|original text|source|source text|ausgangstext|quelltext|originaltext|texte original"
              r"|texte source|texto original|texto fuente|testo originale|testo sorgente|brontekst|originele tekst)"
              r"\s*[:：]")

# A note: "Note:", "(Anmerkung: …)", "N.B.", "Nota del traductor:".
_NOTE_WORDS = (r"(?:notes?|n\.\s?b\.?|nb|translator'?s notes?|translation notes?|anmerkung(?:en)?|anm\. d\. übers\.?"
               r"|hinweis(?:e)?|übersetzungshinweis|remarques?|note du traducteur|n\.d\.t\.?|notas?|nota del traductor"
               r"|nota do tradutor|nota del traduttore|observa(?:ção|ções)|obs\.|opmerking(?:en)?|noot|let op)\s*[:：]")
_NOTE = re.compile(_NOTE_WORDS, re.IGNORECASE)
_NOTE_IN_PARENTHESES = re.compile(r"[(\[]\s*" + _NOTE_WORDS, re.IGNORECASE)
_ANY_LABEL = re.compile(r"[^\W\d_][\w'’ -]{0,24}\s*[:：](?:\s|$)")  # "Important:", "Tip:" in a source

# Talk around the translation: "I hope this helps", "Let me know if …", "I translated …".
_TALK = _any(r"\bi hope (?:this|that|it) (?:helps|is helpful)", r"\bhope (?:this|that) helps\b",
             r"\blet me know if\b", r"\bfeel free to ask\b",
             r"\bif you (?:need|want|would like|'d like) (?:any )?(?:further|more|other) (?:changes|adjustments"
             r"|translations|help|assistance)", r"\bi (?:have |'ve )?translated\b",
             r"\b(?:the|this|my) translation (?:keeps|preserves|retains|uses|is (?:more |less )?(?:literal|formal"
             r"|informal|idiomatic))",
             r"\bich hoffe,? (?:das|dies|es) hilft", r"\blass(?:en sie)? (?:mich|es mich) wissen",
             r"\bsag(?:en sie)? mir bescheid\b", r"\bich habe\b.{0,60}\bübersetzt\b",
             r"\bdie übersetzung (?:behält|verwendet|ist (?:eher |sehr )?(?:wörtlich|formell|informell|frei))",
             r"\bj'espère que (?:cela|ceci|ça) (?:vous )?(?:aide|aidera|sera utile)", r"\bn'hésitez pas à me\b",
             r"\bfaites-moi savoir\b", r"\bj'ai traduit\b",
             r"\bla traduction (?:conserve|garde|utilise|est (?:plus )?(?:littérale|formelle))",
             r"\bespero que (?:esto|esta traducción|te|le) (?:sirva|ayude|sea útil)",
             r"\bno dudes en (?:pedirme|preguntarme|decirme)\b", r"\bavísame si\b", r"\bhe traducido\b",
             r"\bla traducción (?:mantiene|conserva|utiliza|es (?:más )?(?:literal|formal))",
             r"\bspero che (?:questo|questa traduzione|ti|le|sia) (?:ti )?(?:sia utile|aiuti|possa)",
             r"\bfammi sapere se\b", r"\bnon esitare a (?:chiedermi|chiedere|contattarmi)\b",
             r"\bho tradotto\b",
             r"\bla traduzione (?:mantiene|conserva|utilizza|è (?:più )?(?:letterale|formale))",
             r"\bespero que (?:isso|isto|esta tradução) (?:ajude|seja útil)", r"\b(?:me avise|avise-me) se\b",
             r"\bnão hesite em me\b", r"\b(?:eu )?traduzi\b",
             r"\ba tradução (?:mantém|preserva|utiliza|usa|é (?:mais )?(?:literal|formal))",
             r"\bik hoop dat (?:dit|het) (?:helpt|nuttig)", r"\blaat (?:me|het me) (?:even )?weten\b",
             r"\bik heb\b.{0,60}\bvertaald\b",
             r"\bde vertaling (?:behoudt|gebruikt|is (?:meer )?(?:letterlijk|formeel))")

# A refusal, or the assistant speaking as one.
_REFUSAL = _any(r"\bi (?:cannot|can't|can ?not|am unable to|am not able to|won't|will not) (?:translate|provide a "
                r"translation|help with (?:this|that)|assist with (?:this|that)|comply)",
                r"\b(?:sorry|i'm sorry|i am sorry|i'm afraid),? (?:but )?i (?:cannot|can't|can ?not|am unable"
                r"|am not able|won't)", r"\bas an ai\b", r"\bas a language model\b",
                r"\bich kann\b.{0,60}\bnicht\b.{0,20}\b(?:übersetzen|helfen)\b", r"\bleider kann ich\b",
                r"\bes tut mir leid,? (?:aber )?(?:ich kann|das kann ich)\b",
                r"\bals (?:ki|künstliche intelligenz|sprachmodell|ki-assistent)\b",
                r"\bje ne (?:peux|suis) pas (?:en mesure de )?(?:traduire|vous aider|aider)",
                r"\bdésolée?,? (?:mais )?je ne (?:peux|suis pas en mesure)",
                r"\ben tant qu'(?:ia|intelligence artificielle|assistant|modèle de langage)\b",
                r"\bno puedo (?:traducir|ayudar)", r"\blo siento,? (?:pero )?no puedo\b",
                r"\bcomo (?:una )?(?:ia|inteligencia artificial|modelo de lenguaje)\b",
                r"\bnon posso (?:tradurre|aiutar)", r"\bmi dispiace,? (?:ma )?non (?:posso|riesco)\b",
                r"\bin quanto (?:ia|intelligenza artificiale|modello linguistico)\b",
                r"\bnão (?:posso|consigo) (?:traduzir|ajudar)",
                r"\b(?:desculpe|lamento|sinto muito),? (?:mas )?(?:eu )?não (?:posso|consigo)\b",
                r"\bcomo (?:uma )?(?:ia|inteligência artificial|modelo de linguagem)\b",
                r"\bik kan\b.{0,60}\bniet\b.{0,20}\b(?:vertalen|helpen)\b",
                r"\bhet spijt me,? (?:maar )?ik (?:kan|ben)\b",
                r"\bals (?:ai|taalmodel|ai-assistent)\b")

# In a source, anything that a translation may render with one of the patterns above: a sentence about translating,
# asking to be told, hoping, apologising, not being able to, in the languages above and a few more.
_TRANSLATION_WORD = re.compile(r"translat|übersetz|tradu[cizt]|vertal|翻訳|翻译|翻譯|번역|перев[оеё]д|przekład|tłumacz"
                               r"|översätt|oversett|käänn", re.IGNORECASE)
_TALK_SOURCE = _any(r"\blet (?:me|us) know\b", r"\btell (?:me|us)\b", r"\bkeep (?:me|us) posted\b", r"\bhope\b",
                    r"\bfeel free\b", r"\bdo(?:n't| not) hesitate\b", r"\bsag(?:en sie)? (?:mir|uns)\b",
                    r"\blass(?:en sie)? (?:mich|uns)\b", r"\bhoffe\b", r"\bzögern sie nicht\b",
                    r"\b(?:faites|dites)-(?:moi|nous)\b", r"\bj'espère\b", r"\bn'hésitez pas\b",
                    r"\b(?:avísa|díga|hága)(?:me|nos)\b", r"\bdime\b", r"\bespero\b", r"\bno dude(?:s|n)?\b",
                    r"\b(?:fammi|fateci|dimmi|ditemi)\b", r"\bspero\b", r"\bnon esit", r"\b(?:me|nos) (?:avise|diga)\b",
                    r"\bavise-(?:me|nos)\b", r"\bnão hesite\b", r"\blaat (?:me|ons|het)\b", r"\bik hoop\b",
                    r"\baarzel niet\b", r"告诉我|让我知道|希望|知らせ|教えて|お役に立|알려|바랍니다")
_REFUSAL_SOURCE = _any(r"\bi(?:'m| am)? (?:sorry|afraid)\b", r"\bsorry\b", r"\bunfortunately\b",
                       r"\bi (?:cannot|can't|can ?not|am unable|am not able|won't|will not)\b",
                       r"\bich kann\b.{0,60}\bnicht\b", r"\bleider\b", r"\btut (?:mir|uns) leid\b",
                       r"\bdésolée?s?\b", r"\bmalheureusement\b", r"\bje ne (?:peux|suis)\b", r"\blo sient",
                       r"\bno (?:puedo|podemos)\b", r"\bmi dispiace\b", r"\bnon (?:posso|riesco)\b",
                       r"\b(?:desculp|lament|sinto muito)", r"\bnão (?:posso|consigo)\b", r"\bhet spijt\b",
                       r"\bik kan\b.{0,60}\bniet\b", r"\bhelaas\b",
                       r"申し訳|すみません|できません|抱歉|对不起|無法|无法|不能|죄송|없습니다")

_QUOTES = (("```", "```"), ('"', '"'), ("“", "”"), ("„", "“"), ("„", "”"), ("«", "»"), ("»", "«"), ("「", "」"),
           ("『", "』"), ("‘", "’"), ("'", "'"))


def _lines(text: str) -> list[str]:
    """The non-empty lines without markdown decoration; of a long text only its first and last lines, and of a long
    line only its start and end: where a chat answer puts what it says around the translation (and a 20,000-character
    document is read in milliseconds)."""
    lines = [_LEAD.sub("", line).strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 2 * _ENDS:
        lines = lines[:_ENDS] + lines[-_ENDS:]
    return [line if len(line) <= 2 * _ENDS_CHARS else f"{line[:_ENDS_CHARS]} … {line[-_ENDS_CHARS:]}" for line in lines]


def _quoted(text: str) -> bool:
    """The whole text between a pair of quotes (or a code fence), with no quote of that kind inside."""
    text = text.strip()
    for opening, closing in _QUOTES:
        inner = text[len(opening):-len(closing)]
        if (len(text) > len(opening) + len(closing) and text.startswith(opening) and text.endswith(closing)
                and (opening == "'" or (opening not in inner and closing not in inner))):
            return True
    return False


def _kinds(text: str, *, as_source: bool) -> Counter[str]:
    """How many lines of each kind of commentary the text has. A source counts more generously: a short label
    ("Important:") stands for a note, a short opening ("Yes,") for an opener, a salutation ("Dear Anna,") for a line
    ending in ":", a sentence about translating for an intro, a label or talk, and hoping, asking to be told,
    apologising or not being able to for talk or a refusal."""
    lines = _lines(text)
    found: Counter[str] = Counter()
    if not lines:
        return found
    first = lines[0]
    found["opener"] += bool(_OPENER.match(first) or (as_source and _SHORT_OPENING.match(first)))
    found["intro"] += len(lines) > 1 and first.endswith((":", "：") + ((",", ";", "،", "，") if as_source else ()))
    for line in lines:
        about = as_source and bool(_TRANSLATION_WORD.search(line))
        found["intro"] += bool(_INTRO.search(line) or about)
        found["label"] += bool(_LABEL.match(line) or about or (as_source and _ANY_LABEL.match(line)))
        found["note"] += bool(_NOTE.match(line) or _NOTE_IN_PARENTHESES.search(line)
                              or (as_source and _ANY_LABEL.match(line)))
        found["talk"] += bool(_TALK.search(line) or about or (as_source and _TALK_SOURCE.search(line)))
        found["refusal"] += bool(_REFUSAL.search(line) or (as_source and _REFUSAL_SOURCE.search(line)))
    found["quoted"] += _quoted(text) or (as_source and text.lstrip()[:1] in "\"'“”„«»‘’「『`")
    return found


def commentary(source: str, translation: str) -> str | None:
    """The kind of commentary ("opener", "intro", "label", "note", "talk", "refusal", "quoted") the translation has
    more of than the source, or None."""
    ours, theirs = _kinds(translation, as_source=False), _kinds(source, as_source=True)
    return next((kind for kind, n in ours.items() if n > theirs[kind]), None)
