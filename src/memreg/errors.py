"""The one refusal of a bad setting, for every stack (closed form, MLP, U-Net, workflow).

A library settings class names its own argument; the workflow re-raises the refusal naming
the config key (memreg.config.ConfigError, a SettingError too), so a caller catches one type.
"""

from __future__ import annotations

from typing import Any


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


class SettingError(ValueError):
    """A refused setting: the argument's ``name``, its ``value`` and what is ``allowed``."""

    def __init__(self, name: str, value: Any, allowed: str) -> None:
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.name} = {short(self.value)} is not allowed: {self.allowed}"
