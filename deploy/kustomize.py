"""`python -m deploy.kustomize DIR`: what `kubectl kustomize DIR` prints, for the subset of
kustomization.yaml that deploy/k8s uses, without a kustomize binary (the tests run offline).

Supported, with kustomize's meaning and in kustomize's order (a directory's own resources are
built first, then its patches, namespace, labels, images):
- `resources`: files (one or more YAML documents) and directories with a kustomization.yaml;
- `patches`: `path` to a strategic-merge patch plus a `target` with `kind` and `name`;
- `namespace`: set on every namespaced resource (and, as kustomize does, the name of a
  Namespace object);
- `labels`: `pairs` on metadata.labels, and on pod templates with `includeTemplates`;
- `images`: `name` with `newName`, `newTag` and/or `digest`.
Anything else in a kustomization is refused rather than ignored, so this stays a faithful
stand-in; `kubectl apply -k` itself reads the same files.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_FIELDS = frozenset(
    {"apiVersion", "kind", "resources", "patches", "namespace", "labels", "images"}
)
CLUSTER_SCOPED_KINDS = frozenset({"Namespace"})
NAMESPACED_KINDS = frozenset(
    {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "ScaledObject",
        "Secret",
        "Service",
        "ServiceAccount",
    }
)
# Lists a strategic merge patch merges item by item, by this key (as Kubernetes' patchMergeKey);
# every other list is replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
}


class KustomizeError(ValueError):
    pass


def load_documents(path: Path) -> list[Resource]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def kustomization(directory: Path) -> dict[str, Any]:
    loaded = load_documents(directory / "kustomization.yaml")
    if len(loaded) != 1:
        raise KustomizeError(f"{directory}/kustomization.yaml must hold one document")
    found = loaded[0]
    unknown = set(found) - KUSTOMIZATION_FIELDS
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    if found.get("kind", "Kustomization") != "Kustomization":
        raise KustomizeError(f"{directory}: not a Kustomization")
    return found


def build(directory: Path) -> list[Resource]:
    spec = kustomization(directory)
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        resources += build(path) if path.is_dir() else load_documents(path)
    for patch in spec.get("patches", []):
        apply_patch(resources, directory, patch)
    if "namespace" in spec:
        set_namespace(resources, spec["namespace"])
    for label in spec.get("labels", []):
        add_labels(resources, label)
    for image in spec.get("images", []):
        set_image(resources, image)
    check_unique(resources)
    return resources


def apply_patch(resources: list[Resource], directory: Path, patch: dict[str, Any]) -> None:
    if set(patch) != {"path", "target"} or not {"kind", "name"} <= set(patch["target"]):
        raise KustomizeError(f"{directory}: a patch needs `path` and a `target` kind and name")
    documents = load_documents(directory / patch["path"])
    if len(documents) != 1:
        raise KustomizeError(f"{patch['path']}: one strategic merge patch per file")
    target = patch["target"]
    matched = [r for r in resources if selected(r, target)]
    if not matched:
        raise KustomizeError(f"{patch['path']}: no resource matches {target}")
    for resource in matched:
        merged = strategic_merge(resource, documents[0])
        resource.clear()
        resource.update(merged)


def selected(resource: Resource, target: dict[str, str]) -> bool:
    group, _, version = resource["apiVersion"].rpartition("/")
    wanted = {
        "kind": resource["kind"],
        "name": resource["metadata"]["name"],
        "group": group,
        "version": version,
        "namespace": resource["metadata"].get("namespace"),
    }
    return all(wanted.get(key) == value for key, value in target.items())


def strategic_merge(original: Any, patch: Any, key: str = "") -> Any:
    """The strategic merge of `patch` into `original` (maps merge, `null` deletes, MERGE_KEYS
    lists merge by their key, other lists and scalars are replaced)."""
    if isinstance(original, dict) and isinstance(patch, dict):
        if any(k.startswith("$") for k in patch):
            raise KustomizeError(f"patch directives are not supported: {sorted(patch)}")
        merged = dict(original)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            elif name in merged:
                merged[name] = strategic_merge(merged[name], value, name)
            else:
                merged[name] = copy.deepcopy(value)
        return merged
    if isinstance(original, list) and isinstance(patch, list) and key in MERGE_KEYS:
        # As kustomize orders them: the patch's items first (merged into the original's item of
        # the same key), then the original's items the patch does not name.
        by = MERGE_KEYS[key]
        originals = {item[by]: item for item in original}
        named = {item[by] for item in patch}
        merged_items = [
            strategic_merge(originals[item[by]], item) if item[by] in originals else item
            for item in patch
        ]
        merged_items += [item for item in original if item[by] not in named]
        return copy.deepcopy(merged_items)
    return copy.deepcopy(patch)


def set_namespace(resources: list[Resource], namespace: str) -> None:
    for resource in resources:
        kind = resource["kind"]
        if kind in CLUSTER_SCOPED_KINDS:
            if kind == "Namespace":
                resource["metadata"]["name"] = namespace
        elif kind in NAMESPACED_KINDS:
            resource["metadata"]["namespace"] = namespace
        else:
            raise KustomizeError(f"unknown scope of kind {kind}: add it to deploy/kustomize.py")


def add_labels(resources: list[Resource], label: dict[str, Any]) -> None:
    if label.get("includeSelectors") or set(label) - {"pairs", "includeTemplates"}:
        raise KustomizeError(f"only pairs and includeTemplates are supported: {label}")
    pairs: dict[str, str] = label["pairs"]
    for resource in resources:
        resource["metadata"].setdefault("labels", {}).update(pairs)
        # Like kustomize: only templates that already carry labels get them.
        template = resource.get("spec", {}).get("template", {})
        if label.get("includeTemplates") and "labels" in template.get("metadata", {}):
            template["metadata"]["labels"].update(pairs)


def set_image(resources: list[Resource], image: dict[str, str]) -> None:
    if set(image) - {"name", "newName", "newTag", "digest"}:
        raise KustomizeError(f"unsupported image fields: {sorted(image)}")
    for container in containers(resources):
        name, tag, digest = split_image(container["image"])
        if name != image["name"]:
            continue
        name = image.get("newName", name)
        if "digest" in image:
            container["image"] = f"{name}@{image['digest']}"
        elif "newTag" in image:
            container["image"] = f"{name}:{image['newTag']}"
        else:
            suffix = f"@{digest}" if digest else f":{tag}" if tag else ""
            container["image"] = name + suffix


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`name`, tag and digest of an image reference (a registry port is not a tag)."""
    name, _, digest = image.partition("@")
    head, sep, tag = name.rpartition(":")
    if sep and "/" not in tag:
        return head, tag, digest or None
    return name, None, digest or None


def containers(resources: list[Resource]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in resources:
        pod = resource.get("spec", {}).get("template", {}).get("spec", {})
        found += pod.get("initContainers", []) + pod.get("containers", [])
    return found


def check_unique(resources: list[Resource]) -> None:
    seen: set[tuple[str, str, str | None]] = set()
    for resource in resources:
        meta = resource["metadata"]
        key = (resource["kind"], meta["name"], meta.get("namespace"))
        if key in seen:
            raise KustomizeError(f"{key} is declared twice")
        seen.add(key)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m deploy.kustomize DIR")
    yaml.safe_dump_all(build(Path(argv[0])), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main(sys.argv[1:])
