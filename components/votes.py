"""The Vote section: two outputs of a run as A and B, engines hidden, in a random order; the voter says which is
better (or tie, or both bad), then sees which engine was which and how often the judge agreed with them. A
translation can also be voted segment by segment. Votes are kept with the run in the history.

Inside the vote widget, before a vote, nothing names an engine: no engine id, no display name, no score, nothing
of the judge's (engine names inside the outputs' own texts are masked). The cards above the widget show the same
texts with their engines: to vote blind, vote before reading them."""

from __future__ import annotations

import random
import uuid
from typing import TYPE_CHECKING

import streamlit as st

from parallax import blind
from parallax.agreement import Agreement, by_judge, judge_decision, judge_name
from parallax.run.execute import RunOutcome
from parallax.votes import Vote

from .names import display_name, display_names
from .safe import md_code, md_escape
from .settings import engine_labels, history_store

if TYPE_CHECKING:
    from parallax.storage import Store

BUTTONS = {"left": "A is better", "right": "B is better", "tie": "Tie", "both bad": "Both bad"}
SAID = {"left": "A is better", "right": "B is better", "tie": "a tie", "both bad": "both bad"}


def voter() -> str:
    """This browser session's voter id (no accounts): one per session, kept in the session state."""
    return str(st.session_state.setdefault("vote_voter", f"session-{uuid.uuid4().hex[:12]}"))


def _names(outcome: RunOutcome) -> dict[str, str]:
    ids = [r.engine for r in outcome.ordered()]
    return display_names(ids, engine_labels())


def _hidden(outcome: RunOutcome) -> list[str]:
    """Every engine name this run could give away (its engines, their chain parts, the judge), to mask."""
    labels = engine_labels()
    ids = {r.engine for r in outcome.ordered()} | {r.answered_by for r in outcome.ordered() if r.answered_by}
    ids |= {j for j in [(outcome.settings.get("translation") or {}).get("judge")] if j}
    every = ids | {p for e in ids for p in e.split("|")}
    return blind.names_to_hide(outcome, {e: display_name(e, labels) for e in every} | _names(outcome))


def vote_section(outcome: RunOutcome, prefix: str) -> None:
    """The Vote section of a finished run (Review, Translate, and any stored run in History)."""
    if not blind.pairs(outcome):
        if outcome.mode == "review" and len({r.engine for r in outcome.ordered()}) == 1:
            st.caption(":material/how_to_vote: A blind vote compares two engines on the same perspective: run "
                       "this review with two or more engines to vote on their outputs.")
        return
    st.subheader("Vote")
    store = history_store()
    if store is None:
        st.info("Votes are kept in the history, which cannot be reached now: vote once it is back.",
                icon=":material/cloud_off:")
        return
    key = f"{prefix}_vote_{outcome.run_id}"
    st.caption("Two outputs of this run as A and B, in a random order, their engines hidden. Say which is better: "
               "the engines are shown once you have voted, and your vote is kept with the run in History. To vote "
               "blind, vote before reading the cards above.")
    hidden = _hidden(outcome)
    pair_vote(outcome, store, key, hidden)
    if outcome.mode == "translate" and len(blind.segment_candidates(outcome)) > 1 and outcome.assessment \
            and outcome.assessment.units:
        segment_vote(outcome, store, key, hidden)


def _new_pair(outcome: RunOutcome, key: str, avoid: tuple[str, str] | None = None) -> None:
    voted = st.session_state.get(f"{key}_voted", [])
    st.session_state[f"{key}_pair"] = blind.pick_pair(outcome, random.Random(), voted, avoid)
    st.session_state.pop(f"{key}_cast", None)


def _cast(outcome: RunOutcome, store: Store, key: str, said: str) -> None:
    from parallax.storage import StorageError

    left, right = st.session_state[f"{key}_pair"]
    try:
        st.session_state[f"{key}_cast"] = store.add_vote(Vote(outcome.run_id, left, right, said, voter()))
        st.session_state.setdefault(f"{key}_voted", []).append((left, right))
    except StorageError as exc:
        st.session_state[f"{key}_error"] = f"The vote was not kept: {exc}"


def pair_vote(outcome: RunOutcome, store: Store, key: str, hidden: list[str]) -> None:
    if st.session_state.get(f"{key}_pair") is None:
        _new_pair(outcome, key)
    left, right = st.session_state[f"{key}_pair"]
    cast: Vote | None = st.session_state.get(f"{key}_cast")
    with st.container(border=True, key=key):
        if error := st.session_state.pop(f"{key}_error", None):
            st.error(md_escape(error))
        if cast is not None:
            reveal(outcome, store, cast, key)
            return
        if outcome.mode == "review":
            st.caption("Both review the text from the "
                       f"{md_escape(outcome.results[left].perspective)} perspective.")
        a, b = st.columns(2)
        for column, label, branch in ((a, "A", left), (b, "B", right)):
            text = blind.mask_names(blind.output_text(outcome.results[branch], outcome.mode), hidden)
            column.markdown(f"**{label}**")
            with column.container(border=True, height=320 if len(text) > 900 else "content"):
                st.markdown(md_escape(text))
        row = st.container(horizontal=True, gap="small")
        for said, label in BUTTONS.items():
            row.button(label, key=f"{key}_{said.replace(' ', '_')}", on_click=_cast, args=(outcome, store, key, said),
                       type="primary" if said in ("left", "right") else "secondary")
        if len(blind.pairs(outcome)) > 1:
            row.button("Another pair", key=f"{key}_another", type="tertiary", icon=":material/shuffle:",
                       on_click=_new_pair, args=(outcome, key, (left, right)))


def _side(name: str, engine: str) -> str:
    return f"**{md_escape(name)}** ({md_code(engine)})"


def reveal(outcome: RunOutcome, store: Store, cast: Vote, key: str) -> None:
    """After a vote: which engine was A and which B, what the judge decided on the pair, and how often it agreed
    with this session's votes on the run."""
    names = _names(outcome)
    a, b = outcome.results[cast.left], outcome.results[cast.right]
    st.success(f"Your vote: {SAID[cast.outcome]}. A was {_side(names[a.engine], a.engine)}, B was "
               f"{_side(names[b.engine], b.engine)}.", icon=":material/how_to_vote:")
    decided = judge_decision(outcome, cast)
    judge = judge_name(outcome, cast)
    if decided is not None and judge is not None:
        scale = "0–100" if outcome.mode == "translate" else "0–10"
        sa, sb = (r.judge_score if outcome.mode == "translate" else r.score for r in (a, b))
        pick = {"left": "A", "right": "B", "tie": "neither"}[decided]
        same = (decided == cast.outcome) or (decided == "tie" and cast.outcome in ("tie", "both bad"))
        whose = f"The judge ({md_code(judge)})" if outcome.mode == "translate" else "Their own scores"
        st.markdown(f"{whose}: A {sa:g}, B {sb:g} ({scale}), so {pick} — "
                    + ("the same as your vote." if same else "not what you voted."))
    agreement_lines(by_judge([(outcome, [v for v in store.votes(outcome.run_id) if v.voter == voter()])]))
    st.button("Next pair", key=f"{key}_next", type="primary", icon=":material/arrow_forward:", on_click=_new_pair,
              args=(outcome, key))


def agreement_lines(found: list[Agreement], whose: str = "your votes") -> None:
    for a in found:
        st.caption(md_escape(a.sentence(whose)))
        if warning := a.warning():
            st.warning(md_escape(warning), icon=":material/warning:")


def segment_vote(outcome: RunOutcome, store: Store, key: str, hidden: list[str]) -> None:
    """For each source segment, the best of the candidates' texts on it (blind, shuffled per segment)."""
    assert outcome.assessment is not None
    units = outcome.assessment.units
    ids = blind.segment_candidates(outcome)
    saved: dict[int, str] | None = st.session_state.get(f"{key}_segments_saved")
    with st.expander(f"Vote per segment: the best translation of each of the {len(units)} source segments",
                     expanded=saved is not None), st.container(key=f"{key}_segments"):
        if saved is not None:
            segment_reveal(outcome, store, key, saved)
            return
        st.caption("For each segment, pick the best translation (the candidates are numbered anew, in a new order, "
                   "for every segment), or “No difference”. Leave a segment unanswered to skip it. Each pick counts "
                   "as a win over every other candidate on that segment.")
        with st.form(f"{key}_segments_form", border=False):
            for n, source in enumerate(units):
                order = blind.shuffled(ids, f"{voter()}:{outcome.run_id}:{n}")
                labels = {b: f"**{i + 1}.** " + md_escape(blind.mask_names(outcome.results[b].segments[n] or "—",
                                                                          hidden)) for i, b in enumerate(order)}
                labels[blind.NO_DIFFERENCE] = "No difference"
                st.radio(f"Segment {n + 1}: {md_escape(source)}", list(labels), index=None, key=f"{key}_seg_{n}",
                         format_func=labels.__getitem__)
            submitted = st.form_submit_button("Save my segment votes", type="primary")
    if submitted:
        picks = {n: st.session_state.get(f"{key}_seg_{n}") for n in range(len(units))}
        picks = {n: p for n, p in picks.items() if p is not None}
        if not picks:
            st.warning("Pick a translation (or “No difference”) for at least one segment.")
            return
        from parallax.storage import StorageError

        rng = random.Random()
        try:
            for n, picked in picks.items():
                for vote in blind.segment_votes(outcome.run_id, n, picked, ids, voter(), rng):
                    store.add_vote(vote)
        except StorageError as exc:
            st.error(f"The votes were not kept: {md_escape(str(exc))}")
            return
        st.session_state[f"{key}_segments_saved"] = picks
        st.rerun()


def segment_reveal(outcome: RunOutcome, store: Store, key: str, saved: dict[int, str]) -> None:
    import pandas as pd

    assert outcome.assessment is not None
    names = _names(outcome)
    ids = blind.segment_candidates(outcome)
    rows = []
    for n, picked in sorted(saved.items()):
        scores = {b: outcome.results[b].segment_scores[n] for b in ids if outcome.results[b].segment_scores}
        known = {b: s for b, s in scores.items() if s is not None}
        top = max(known.values()) if known else None
        judge = ", ".join(names[outcome.results[b].engine] for b, s in known.items() if s == top) if known else "—"
        rows.append({"#": n + 1, "source": outcome.assessment.units[n],
                     "your pick": "no difference" if picked == blind.NO_DIFFERENCE
                     else names[outcome.results[picked].engine], "the judge's best": judge})
    st.success(f"Kept: your picks on {len(saved)} segment(s), as votes with the run.", icon=":material/how_to_vote:")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    agreement_lines(by_judge([(outcome, [v for v in store.votes(outcome.run_id) if v.voter == voter()])]))

    def again() -> None:
        st.session_state.pop(f"{key}_segments_saved", None)
        for n in range(len(outcome.assessment.units if outcome.assessment else [])):
            st.session_state.pop(f"{key}_seg_{n}", None)

    st.button("Vote on the segments again", key=f"{key}_segments_again", on_click=again)


def history_panel(outcome: RunOutcome, store: Store) -> None:
    """History: the run's votes (engines revealed) and the judge's agreement with them, on this run and over every
    run in the history."""
    from parallax.export import vote_rows, votes_csv
    from parallax.storage import StorageError
    from parallax.storage.history import outcome_from_record

    votes = store.votes(outcome.run_id)
    st.subheader(f"Votes ({len(votes)})")
    if not votes:
        st.caption("No votes on this run yet: vote below, or from a script with `parallax history vote`.")
        return
    import pandas as pd

    names = _names(outcome)
    rows = [{"when": r["created_at"][:19].replace("T", " "), "voter": r["voter"],
             "segment": "whole text" if r["segment"] is None else str(r["segment"]),
             "A": names.get(r["left_engine"] or "", r["left"]), "B": names.get(r["right_engine"] or "", r["right"]),
             "vote": {"left": "A better", "right": "B better"}.get(r["outcome"], r["outcome"]),
             "better": names.get(r["winner_engine"] or "", "—") if r["winner"] else "—"}
            for r in vote_rows(outcome, votes)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"segment": st.column_config.TextColumn(
                     help="The source segment voted on (numbered as in the segments list), or the whole text")})
    agreement_lines(by_judge([(outcome, votes)]), "the votes on this run")
    st.download_button("Download votes CSV", votes_csv(outcome, votes), f"parallax-{outcome.run_id}-votes.csv",
                       "text/csv", on_click="ignore", icon=":material/download:")
    every = st.expander("Judge–human agreement over every run in the history", key="history_votes_all",
                        on_change="rerun")
    if not every.open:  # each voted run is loaded to read its judge's scores: only when asked
        return
    with every:
        voted: dict[str, list[Vote]] = {}
        for v in store.votes():
            voted.setdefault(v.run_id, []).append(v)
        runs = []
        for run_id, found in voted.items():
            try:
                runs.append((outcome_from_record(store.load_run(run_id)), found))
            except StorageError:
                continue
        agreement_lines(by_judge(runs), "the votes")
        st.caption("Ties as in WMT's meta-evaluation with tie calibration: a vote for tie (or both bad) agrees only "
                   "with equal scores. Agreement's interval: Wilson 95%; Cohen's κ over left / right / tie, its "
                   "interval a bootstrap over the votes. A review has no judge: its votes are compared with the "
                   "reviews' own scores of the text, which only says whether the voter prefers the more lenient "
                   "review.")


def stored_votes(run_id: str) -> list[Vote]:
    """A run's votes for its exports (none when the history is unreachable)."""
    from parallax.storage import StorageError

    store = history_store()
    try:
        return store.votes(run_id) if store is not None else []
    except StorageError:
        return []
