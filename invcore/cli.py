"""The help formatter of every command line (``invrl``, train.py, evaluate.py, ``python -m ...``): argparse's
ArgumentDefaultsHelpFormatter, which prints each option's default, without the noise of defaults that say
nothing (None, False, empty) or that the help text already states."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS or default == "" or default == []
                or "default" in text.lower()):
            return text
        return super()._get_help_string(action)
