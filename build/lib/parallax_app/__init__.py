"""Parallax's web app (Streamlit): `parallax app` runs `app.py` here. The core, `parallax`, never imports this."""
