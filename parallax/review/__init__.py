"""Reviewing a text from a perspective: the judgement a branch returns, long texts in chunks, suggested perspectives."""
