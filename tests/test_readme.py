"""docs/configuration.md documents every setting (operators configure from it, not from the code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings

CONFIGURATION = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_documented_in_configuration_md(name: str) -> None:
    assert f"`PAYOUTS_{name.upper()}`" in CONFIGURATION
