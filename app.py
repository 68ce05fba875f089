"""Parallax web app: the frame only — page config, shared session defaults, navigation, provider status.

Pages live in app_pages/, not pages/: Streamlit auto-discovers a pages/ folder until the first run of this
script, so a fresh server opening /translate directly would run the page without this frame (tested:
tests/browser/test_app_browser.py).
"""

import importlib
import threading
from pathlib import Path

import streamlit as st

from components.settings import load_secrets, provider_sidebar
from parallax.documents.confine import start_early

HERE = Path(__file__).parent
# Imported only when a run starts or a result is drawn, so the first page shows sooner; warmed in the background.
LATER = ("parallax.run.graph", "parallax.storage.history", "parallax.export", "pandas", "pandas.io.formats.style",
         "plotly.graph_objects")


def _warm() -> None:
    for module in LATER:
        importlib.import_module(module)
    start_early()
    from parallax.run.graph import diagram

    diagram(False)  # the run's graph, drawn once (about a second) before the first results need it


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Timer:
    """Once per server process: import what a run needs and start the fork server that reads uploaded documents
    (confined), off the script thread, a moment after the first page is drawn (imports hold the GIL: started at
    once, they delayed the first page by ~0.6 s, measured)."""
    timer = threading.Timer(1.5, _warm)
    timer.daemon = True
    timer.start()
    return timer


# A local icon: a :material/...: page icon makes every page load fetch it from a font host on the internet.
st.set_page_config(page_title="Parallax", page_icon=str(HERE / "assets" / "parallax.png"),
                   layout="wide")
load_secrets()
st.session_state.setdefault("custom_perspectives", {})

pages = [
    st.Page(HERE / "app_pages" / "review.py", title="Review", icon=":material/rate_review:", default=True),
    st.Page(HERE / "app_pages" / "translate.py", title="Translate", icon=":material/translate:"),
    st.Page(HERE / "app_pages" / "batch.py", title="Batch", icon=":material/dataset:"),
    st.Page(HERE / "app_pages" / "history.py", title="History", icon=":material/history:"),
    st.Page(HERE / "app_pages" / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
]
page = st.navigation(pages)
provider_sidebar()
page.run()
warm_up()
