"""No Docker engine runs here, so check docker-compose.yml against what the services need."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.embedded import free_port, nats_server_binary, wait_for_port

REPO = Path(__file__).resolve().parents[2]
APP_SERVICES = ("gateway", "extractor", "validator", "persister")
# (image, deploy/Dockerfile target): only the extractor's image carries the OCR stack.
ROLE_IMAGES = {
    "gateway": ("invoiceflow:latest", "runtime"),
    "extractor": ("invoiceflow-extractor:latest", "extractor"),
    "validator": ("invoiceflow:latest", "runtime"),
    "persister": ("invoiceflow:latest", "runtime"),
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_nats_runs_jetstream_on_a_volume(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    assert "-js" in nats["command"]
    store = nats["command"][nats["command"].index("-sd") + 1]
    assert any(v.split(":")[1] == store for v in nats["volumes"])
    assert "healthcheck" in nats
    assert nats["volumes"][0].split(":")[0] in compose["volumes"]


def test_postgres_keeps_data_on_a_volume(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert postgres["volumes"][0].split(":")[0] in compose["volumes"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_runs_from_its_role_image(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    image, target = ROLE_IMAGES[name]
    assert service["build"]["context"] == "."
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert service["build"]["target"] == target
    assert service["image"] == image
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert (REPO / "services" / name / "__main__.py").exists()
    assert service["environment"]["NATS_URL"] == "nats://nats:4222"
    assert service["depends_on"]["nats"]["condition"] == "service_healthy"


def test_persister_reaches_postgres(compose: dict[str, Any]) -> None:
    persister = compose["services"]["persister"]
    assert "@postgres:5432/" in persister["environment"]["DATABASE_URL"]
    assert persister["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_workers_scale_out(compose: dict[str, Any]) -> None:
    # `--scale extractor=N` fails with a fixed container name or a published host port.
    for name in ("extractor", "validator", "persister"):
        service = compose["services"][name]
        assert "container_name" not in service
        assert "ports" not in service


def test_gateway_is_published_and_knows_its_url(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    assert "8000:8000" in gateway["ports"]
    assert "INVOICEFLOW_PUBLIC_URL" in gateway["environment"]
    assert "OPENAI_API_KEY" in compose["services"]["extractor"]["environment"]


def test_dockerfile_installs_the_code_the_services_run() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE))
    assert {"contracts/", "services/", "deploy/", "pyproject.toml"} <= copied
    assert "pip install ./contracts ." in dockerfile
    assert re.search(r"^USER ", dockerfile, flags=re.MULTILINE), "runs as root"


def test_the_nats_command_starts_a_real_server_that_fsyncs_every_ack(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """Compose's nats command, run by the nats-server this repository installs with its paths
    mapped to here: it starts (an unknown flag would stop it), and JetStream syncs every ack."""
    nats = compose["services"]["nats"]
    here = {"/data": str(tmp_path / "data")}
    for volume in nats["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            here[target] = str(REPO / source)
    port, monitor = free_port(), free_port()
    command = [here.get(arg, arg) for arg in nats["command"]]
    command[command.index("-m") + 1] = str(monitor)
    log = (tmp_path / "nats.log").open("wb")
    process = subprocess.Popen(
        [nats_server_binary(), *command, "-a", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(monitor)
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz", timeout=5) as response:
            jetstream = json.load(response)["jetstream"]["config"]
        assert jetstream["sync_always"] is True
        assert jetstream["store_dir"].startswith(here["/data"])
    finally:
        process.terminate()
        process.wait(10)
