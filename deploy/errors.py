"""The one error of the recommend job."""

from __future__ import annotations


class DeployError(ValueError):
    """Bad input to the recommend command: the message names the file, column, line or SKU."""
