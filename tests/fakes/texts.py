"""Texts the tests and benchmarks share: a 10-sentence release note and a German translation of it."""

from __future__ import annotations

SOURCE = " ".join([
    "The new release makes every report load twice as fast.", "It also fixes the export of large tables.",
    "Users on the free plan can now share dashboards.", "We removed the old login page.",
    "Single sign-on is available for all paid plans.", "The mobile app now works offline.",
    "Dark mode follows your system setting.", "Charts can be copied as images with one click.",
    "We fixed a bug that duplicated comments.", "Thank you for the feedback that shaped this release.",
])
GERMAN = " ".join([
    "Mit der neuen Version lädt jeder Bericht doppelt so schnell.", "Außerdem wird der Export großer Tabellen "
    "behoben.", "Nutzer des kostenlosen Tarifs können jetzt Dashboards teilen.", "Wir haben die alte Anmeldeseite "
    "entfernt.", "Single Sign-on ist für alle bezahlten Tarife verfügbar.", "Die mobile App funktioniert jetzt "
    "offline.", "Der Dunkelmodus folgt Ihrer Systemeinstellung.", "Diagramme lassen sich mit einem Klick als Bild "
    "kopieren.", "Wir haben einen Fehler behoben, der Kommentare verdoppelte.", "Danke für das Feedback, das diese "
    "Version geprägt hat.",
])
