"""The one loader of the YAML configs (`robot.yaml`, `sip-config/*.yaml`): read with the same
limits as scripts, validated by a pydantic model, every problem as `FILE:LINE:COL: message`."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .dialog.loader import ScriptError, read_yaml, schema_problems

ConfigModel = TypeVar("ConfigModel", bound=BaseModel)


def load_config(model: type[ConfigModel], path: str | Path) -> ConfigModel:
    """ScriptError (its problems name the file, line and key) if the file is not a valid `model`."""
    data, locations = read_yaml(Path(path))
    try:
        return model.model_validate(data or {})
    except ValidationError as err:
        raise ScriptError(list(schema_problems(err, locations))) from err
