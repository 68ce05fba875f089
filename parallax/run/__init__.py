"""A run: planned and checked (plan), bound from its stored spec (spec), its branches run by one pipeline
(pipeline, branch) wired into a LangGraph graph (graph), streamed and collected (execute)."""
