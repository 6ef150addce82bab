"""A local model that dispatches a packed charm the way a Juju unit agent does.

See README.md beside this file for what it models and what it does not.
"""

from __future__ import annotations

from ._model import JUJU_VERSION, ActionResult, Call, Change, HookRun, LocalModel, ModelError

__all__ = ['JUJU_VERSION', 'ActionResult', 'Call', 'Change', 'HookRun', 'LocalModel', 'ModelError']
