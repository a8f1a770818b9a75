"""Deploy-time code: recommend orders from an exported policy in a daily replenishment job.

Imports numpy, pandas, onnxruntime and :mod:`invcore` only (never torch, stable-baselines3, numba or the
simulator; lightgbm only for a LightGBM policy, :mod:`deploy.learned`), and never unpickles a file: policies are
ONNX graphs, JSON level tables or JSON LightGBM policies (the booster in LightGBM's text format), metadata is JSON.
``agents.export`` writes the policy files (format: :mod:`deploy.policyfile`); ``python -m deploy.recommend``
reads them (see docs/deploy.md): :mod:`deploy.policy` loads a policy, :mod:`deploy.state` reads the state,
items and history files, :mod:`deploy.recommend` turns them into orders and is the command line.
"""
