"""Parallax web app: the frame only — page config, shared session defaults, navigation, provider status.

Pages live in app_pages/, not pages/: Streamlit auto-discovers a pages/ folder until the first run of this
script, so a fresh server opening /translate directly would run the page without this frame.
"""

import streamlit as st

from components.settings import load_secrets, provider_sidebar

st.set_page_config(page_title="Parallax", page_icon=":material/call_split:", layout="wide")
load_secrets()
st.session_state.setdefault("custom_perspectives", {})

pages = [
    st.Page("app_pages/review.py", title="Review", icon=":material/rate_review:", default=True),
    st.Page("app_pages/translate.py", title="Translate", icon=":material/translate:"),
    st.Page("app_pages/batch.py", title="Batch", icon=":material/dataset:"),
    st.Page("app_pages/history.py", title="History", icon=":material/history:"),
]
page = st.navigation(pages)
provider_sidebar()
page.run()
