"""Numpy core shared by envs, agents and deploy: calendar, observation layout, order rules, tables, atomic writes,
the commands' help formatter (invcore.cli). Imports numpy and the standard library only; pandas and pyarrow
only in invcore.tables (the one reader of user tables), PyYAML only in invcore.yamlio (the bounded YAML loader);
callers import those two lazily."""
