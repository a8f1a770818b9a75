"""Numpy core shared by envs, agents and deploy: calendar, observation layout, order rules, tables, atomic writes.
Imports numpy and the standard library only; pandas only in invcore.tables, which callers import lazily."""
