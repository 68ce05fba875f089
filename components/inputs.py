"""The text a page works on: a text area, an upload that fills it, and its size."""

from __future__ import annotations

import streamlit as st

from parallax.documents import DOCUMENT_TYPES, PAGE_BREAK, InputError, check_size, read_document, word_count
from parallax.estimate import TOKEN_METHOD, estimate_tokens

from .safe import md_escape


def _load_upload(prefix: str) -> None:
    """Put an uploaded file's text into the text area (to be checked before Run), or explain why it cannot be
    read — the text area keeps what it had."""
    uploaded = st.session_state.get(f"{prefix}_upload")
    st.session_state[f"{prefix}_upload_error"] = st.session_state[f"{prefix}_upload_note"] = None
    if uploaded is None:
        return
    try:
        check_size(uploaded.size, uploaded.name)
        extracted = read_document(uploaded.getvalue(), uploaded.name)
    except InputError as exc:
        st.session_state[f"{prefix}_upload_error"] = str(exc)
        return
    st.session_state[f"{prefix}_text"] = extracted.text
    st.session_state[f"{prefix}_upload_note"] = (f"The text of {uploaded.name} ({extracted.describe()}) is below: "
                                                 "check it before Run.")


def _text_edited(prefix: str) -> None:
    """The user changed the text: an earlier upload's error is about a file no longer in question."""
    st.session_state[f"{prefix}_upload_error"] = None


def document_input(prefix: str, label: str, sample: str, height: int = 300) -> str:
    st.session_state.setdefault(f"{prefix}_text", sample)
    text = st.text_area(label, key=f"{prefix}_text", height=height, on_change=_text_edited, args=(prefix,))
    st.file_uploader("…or upload a document (text, Markdown, PDF, Word, web page, OpenDocument)",
                     type=[t.lstrip(".") for t in DOCUMENT_TYPES], key=f"{prefix}_upload",
                     on_change=_load_upload, args=(prefix,))
    if st.session_state.get(f"{prefix}_upload_error"):
        st.error(md_escape(st.session_state[f"{prefix}_upload_error"]))  # it begins with the file's name
    elif st.session_state.get(f"{prefix}_upload_note"):
        st.info(md_escape(st.session_state[f"{prefix}_upload_note"]))
    pages = f"{text.count(PAGE_BREAK) + 1:,} pages · " if PAGE_BREAK in text else ""
    st.caption(f"{pages}{word_count(text):,} words · {len(text):,} characters · about {estimate_tokens(text):,} "
               "tokens", help=f"Tokens are {TOKEN_METHOD}.")
    return text


def sentence(message: str) -> str:
    """A core error message as a sentence for the page."""
    return message[:1].upper() + message[1:]
