"""Parallax web app: the frame only — page config, shared session defaults, navigation, provider status."""

import streamlit as st

from components.settings import load_secrets, provider_sidebar

st.set_page_config(page_title="Parallax", page_icon=":material/call_split:", layout="wide")
load_secrets()
st.session_state.setdefault("custom_perspectives", {})

pages = [
    st.Page("pages/review.py", title="Review", icon=":material/rate_review:", default=True),
]
page = st.navigation(pages)
provider_sidebar()
page.run()
