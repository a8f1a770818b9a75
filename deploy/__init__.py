"""Deploy-time code: recommend orders from an exported policy in a daily replenishment job.

Imports numpy, pandas and onnxruntime only (never torch, stable-baselines3, numba or the simulator), and
never unpickles a file: policies are ONNX graphs or JSON level tables, metadata is JSON. ``agents.export``
writes the policy files; ``python -m deploy.recommend`` reads them (see docs/deploy.md).
"""
