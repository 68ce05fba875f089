"""Batches: thousands of documents through the same branches, near the concurrency-bound ideal, in flat memory.

A batch does not make one LangGraph Send per item (framework CPU per task would dominate, DESIGN.md §3):
a fixed pool of tasks pulls (document, branch) jobs from a bounded queue and runs each through the one branch
pipeline (`pool`); rows are read lazily (`rows`), and each document is written to the results file as soon as
its branches are done, then dropped (`output`); that file is also the record for resuming. `run` runs a batch
in this process or in worker processes (`workers`); `provider` sends it through the providers' batch APIs.
"""
