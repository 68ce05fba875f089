"""Parallax: run one text through several independent AI branches at once and compare what comes back."""

__version__ = "0.1.0"
