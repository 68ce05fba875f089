"""Engines: one small class per provider with one async streaming method (base.py: the contract), resolved
from namespaced ids by the registry (registry.py)."""
