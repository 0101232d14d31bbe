"""deploy/kustomize.py, the offline stand-in for `kubectl kustomize`: what it does with the
fields it knows, as kustomize v5 does it (test_k8s.py compares whole builds where kubectl is
installed), and that it refuses the ones it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy.kustomize import KustomizeError, build, split_image, strategic_merge


def write(directory: Path, files: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(yaml.safe_dump(content))
    return directory


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "web", "image": "web:latest", "env": [{"name": "A"}, {"name": "B"}]}
                ]
            },
        }
    },
}


def test_lists_with_a_merge_key_merge_patch_items_first() -> None:
    original = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    patch = {"env": [{"name": "NEW", "value": "n"}, {"name": "B", "value": "22"}]}
    assert strategic_merge(original, patch)["env"] == [
        {"name": "NEW", "value": "n"},
        {"name": "B", "value": "22"},
        {"name": "A", "value": "1"},
    ]
    # Other lists are replaced, and null deletes a key.
    assert strategic_merge({"args": [1, 2], "tls": [{}]}, {"args": [3], "tls": None}) == {
        "args": [3]
    }


def test_an_overlay_patches_sets_namespace_labels_and_images(tmp_path: Path) -> None:
    write(
        tmp_path / "base",
        {
            "kustomization.yaml": {"resources": ["web.yaml"], "namespace": "shop"},
            "web.yaml": DEPLOYMENT,
        },
    )
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "C"}]}]}}}
    }
    overlay = write(
        tmp_path / "overlay",
        {
            "kustomization.yaml": {
                "resources": ["../base"],
                "patches": [
                    {"path": "patch.yaml", "target": {"kind": "Deployment", "name": "web"}}
                ],
                "labels": [{"pairs": {"team": "a"}, "includeTemplates": True}],
                "images": [{"name": "web", "newName": "registry:5000/web", "newTag": "1.2"}],
            },
            "patch.yaml": patch,
        },
    )
    [web] = build(overlay)
    assert web["metadata"] == {"name": "web", "namespace": "shop", "labels": {"team": "a"}}
    pod = web["spec"]["template"]
    assert pod["metadata"]["labels"] == {"app": "web", "team": "a"}
    [container] = pod["spec"]["containers"]
    assert container["image"] == "registry:5000/web:1.2"
    assert [e["name"] for e in container["env"]] == ["C", "A", "B"]


def test_unknown_fields_and_unmatched_patches_are_refused(tmp_path: Path) -> None:
    unknown = write(tmp_path / "u", {"kustomization.yaml": {"commonLabels": {"a": "b"}}})
    with pytest.raises(KustomizeError, match="commonLabels"):
        build(unknown)
    unmatched = write(
        tmp_path / "m",
        {
            "kustomization.yaml": {
                "resources": ["web.yaml"],
                "patches": [{"path": "web.yaml", "target": {"kind": "Deployment", "name": "api"}}],
            },
            "web.yaml": DEPLOYMENT,
        },
    )
    with pytest.raises(KustomizeError, match="no resource matches"):
        build(unmatched)


def test_image_references_split_at_the_tag_not_a_registry_port() -> None:
    assert split_image("invoiceflow:latest") == ("invoiceflow", "latest", None)
    assert split_image("registry:5000/app") == ("registry:5000/app", None, None)
    assert split_image("app@sha256:ab") == ("app", None, "sha256:ab")
