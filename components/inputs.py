"""The text a page works on: a text area, an upload that fills it, and its size."""

from __future__ import annotations

import streamlit as st

from parallax.documents import InputError, check_size, decode_document
from parallax.estimate import estimate_tokens

from .safe import md_escape


def _load_upload(prefix: str) -> None:
    """Put an uploaded file's text into the text area, or explain why it cannot be read."""
    uploaded = st.session_state.get(f"{prefix}_upload")
    st.session_state[f"{prefix}_upload_error"] = None
    if uploaded is None:
        return
    try:
        check_size(uploaded.size, uploaded.name)
        st.session_state[f"{prefix}_text"] = decode_document(uploaded.getvalue(), uploaded.name)
    except InputError as exc:
        st.session_state[f"{prefix}_upload_error"] = str(exc)


def document_input(prefix: str, label: str, sample: str, height: int = 300) -> str:
    st.session_state.setdefault(f"{prefix}_text", sample)
    text = st.text_area(label, key=f"{prefix}_text", height=height)
    st.file_uploader("…or upload a UTF-8 text file", type=["txt", "md"], key=f"{prefix}_upload",
                     on_change=_load_upload, args=(prefix,))
    if st.session_state.get(f"{prefix}_upload_error"):
        st.error(md_escape(st.session_state[f"{prefix}_upload_error"]))
    st.caption(f"{len(text):,} characters · about {estimate_tokens(text):,} tokens")
    return text


def sentence(message: str) -> str:
    """A core error message as a sentence for the page."""
    return message[:1].upper() + message[1:]
