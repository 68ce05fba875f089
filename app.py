"""Parallax web app frame. The review page arrives next; until then this page says what the command line does."""

import streamlit as st

st.set_page_config(page_title="Parallax", page_icon="🔀", layout="wide")
st.title("Parallax")
st.write("Run one text through several independent AI branches at once and compare what comes back.")
st.info("The web pages are on their way. Everything already works from the command line:")
st.code(
    "python -m parallax review notes.txt\n"
    "python -m parallax review contract.md -p legal -e openai:gpt-4o-mini -e anthropic:claude-haiku-4-5\n"
    "cat text.md | python -m parallax review - --reducer median --json run.json --csv run.csv",
    language="bash",
)
