"""The manifest that describes one model artifact (written as manifest.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT_VERSION = 1

ISOLATION_FOREST = "isolation_forest"
AUTOENCODER = "autoencoder"
SUPERVISED = "supervised"
MODEL_KINDS = (ISOLATION_FOREST, AUTOENCODER, SUPERVISED)


@dataclass(frozen=True)
class ArtifactManifest:
    """What was trained, on which features and data, and how well it did.

    ``metrics`` and ``params`` hold JSON-compatible values only.  ``arrays_sha256`` is
    the checksum of the array file, checked at every load.
    """

    kind: str
    feature_spec_hash: str
    feature_names: list[str]
    window_start: str
    window_end: str
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    version: str = ""
    arrays_sha256: str = ""
    format_version: int = FORMAT_VERSION
    library_versions: dict[str, str] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["training_window"] = {"start": data.pop("window_start"), "end": data.pop("window_end")}
        return data

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> ArtifactManifest:
        window = data.get("training_window") or {}
        return cls(
            kind=str(data["kind"]),
            feature_spec_hash=str(data["feature_spec_hash"]),
            feature_names=[str(name) for name in data["feature_names"]],
            window_start=str(window.get("start", "")),
            window_end=str(window.get("end", "")),
            metrics=dict(data.get("metrics") or {}),
            params=dict(data.get("params") or {}),
            created_at=str(data.get("created_at", "")),
            version=str(data.get("version", "")),
            arrays_sha256=str(data.get("arrays_sha256", "")),
            format_version=int(data["format_version"]),
            library_versions=dict(data.get("library_versions") or {}),
        )
