"""deploy/k8s checked offline, without a cluster: every manifest of the base and both overlays
validates against Kubernetes' schemas (kubernetes-validate ships them) or, for KEDA's
ScaledObject and CloudNativePG's Cluster, against the CRD schemas kept in deploy/k8s/crds; and
the names, ports, settings, images and numbers in them are the code's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from contracts.names import WORK_STREAM
from contracts.pipeline import EXTRACT, PERSIST, PIPELINE, VALIDATE, Step
from deploy.kustomize import Resource, build, kustomization, load_documents, split_image
from services.extractor.settings import ExtractorSettings
from services.gateway.settings import GatewaySettings
from services.messaging.settings import NatsSettings
from services.persister.settings import PersisterSettings
from services.validator.settings import ValidatorSettings
from services.worker.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
BUILDS = {
    "base": K8S / "base",
    "dev": K8S / "overlays/dev",
    "production": K8S / "overlays/production",
}
# Applied on their own (kubectl apply -f), not through a kustomization.
STANDALONE = (
    K8S / "secrets.example.yaml",
    K8S / "postgres/cluster.yaml",
    K8S / "postgres/cluster-dev.yaml",
)
# The oldest Kubernetes we claim to run on, and the newest whose schemas the wheel ships.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
CRDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): K8S / "crds/keda.sh_scaledobjects.yaml",
    ("postgresql.cnpg.io/v1", "Cluster"): K8S / "crds/postgresql.cnpg.io_clusters.yaml",
}
SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "extractor": ExtractorSettings,
    "validator": ValidatorSettings,
    "persister": PersisterSettings,
    "migrate": PersisterSettings,
}
WORKERS: dict[str, tuple[type[WorkerSettings], Step]] = {
    "extractor": (ExtractorSettings, EXTRACT),
    "validator": (ValidatorSettings, VALIDATE),
    "persister": (PersisterSettings, PERSIST),
}
# Read by the OpenTelemetry SDK itself, not by a settings class.
OTEL_VARIABLES = frozenset({"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"})
# Secrets the manifests read, with a stand-in value to build the settings from.
SECRET_STAND_INS = {
    "INVOICEFLOW_API_KEYS": "key:tenant",
    "OPENAI_API_KEY": "sk-test",
    "DATABASE_URL": "postgresql://invoiceflow:secret@invoiceflow-db-rw:5432/invoiceflow",
}
# Measured RSS in MiB (steady state; the extractor's peak over bench/memory.py) the memory
# limits are sized from.
MEASURED_MIB = {"gateway": 200, "extractor": 2578, "validator": 90, "persister": 100}
# The extractor service's own peak, without its decode processes (bench/memory.py: 357-407).
EXTRACTOR_SERVICE_MIB = 450
# The gateway's own allowance, without its page-render processes: 2.5x its measured RSS.
GATEWAY_SERVICE_MIB = 512


@pytest.fixture(scope="module")
def builds() -> dict[str, list[Resource]]:
    return {name: build(path) for name, path in BUILDS.items()}


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


@cache
def nats_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    return loaded


def standalone() -> list[Resource]:
    return [doc for path in STANDALONE for doc in load_documents(path)]


def database() -> Resource:
    """The production CloudNativePG Cluster (cluster-dev.yaml has the same name)."""
    [cluster, dev] = [r for r in standalone() if r["kind"] == "Cluster"]
    assert dev["metadata"] == cluster["metadata"]
    return cluster


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    [found] = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    return found


def pods(resources: list[Resource]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(app.kubernetes.io/name, pod template) of every Deployment and Job."""
    for resource in resources:
        if resource["kind"] in {"Deployment", "Job"}:
            template = resource["spec"]["template"]
            yield template["metadata"]["labels"]["app.kubernetes.io/name"], template


def container(resources: list[Resource], name: str) -> dict[str, Any]:
    [found] = [t["spec"]["containers"] for n, t in pods(resources) if n == name]
    assert len(found) == 1, f"{name}: one container per pod"
    result: dict[str, Any] = found[0]
    return result


def environment(resources: list[Resource], spec: dict[str, Any]) -> dict[str, str | None]:
    """A container's variables: envFrom ConfigMaps (which must be in the build), then `env`;
    a variable read from a Secret is None."""
    env: dict[str, str | None] = {}
    for source in spec.get("envFrom", []):
        env.update(named(resources, "ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in spec.get("env", []):
        env[variable["name"]] = variable.get("value")
    return env


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The variables a pydantic-settings class reads: its aliases, else prefix + field name."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def default(settings: type[BaseSettings], field: str) -> Any:
    return settings.model_fields[field].default


def port_number(spec: dict[str, Any], port: int | str) -> int:
    """A container port given by number or by name."""
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in spec["ports"] if p["name"] == port]
    return int(number)


def mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * (1024 if unit == "Gi" else 1)


# --- schemas ---------------------------------------------------------------------------------


def closed(schema: Any) -> Any:
    """The schema with unknown fields refused, as the API server refuses them (kubectl's
    --validate=strict default), except where a CRD keeps unknown fields on purpose."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in result and not result.get("x-kubernetes-preserve-unknown-fields"):
        result.setdefault("additionalProperties", False)
    return result


def _not_transcribed(
    validator: Any, value: bool, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if value:
        yield jsonschema.ValidationError(
            "this field's schema was left out of deploy/k8s/crds: copy it from the CRD first"
        )


CrdValidator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"x-invoiceflow-not-transcribed": _not_transcribed}
)


@cache
def crd_validator(api_version: str, kind: str) -> Any:
    [crd] = load_documents(CRDS[(api_version, kind)])
    version = api_version.rpartition("/")[2]
    assert crd["spec"]["names"]["kind"] == kind
    assert crd["spec"]["group"] == api_version.rpartition("/")[0]
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return CrdValidator(closed(served["schema"]["openAPIV3Schema"]))


def validate(resource: Resource, kubernetes_version: str) -> None:
    key = (resource["apiVersion"], resource["kind"])
    if key in CRDS:
        crd_validator(*key).validate(resource)
    else:
        kubernetes_validate.validate(resource, kubernetes_version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", [*BUILDS, "standalone"])
def test_every_manifest_validates(
    builds: dict[str, list[Resource]], name: str, version: str
) -> None:
    resources = standalone() if name == "standalone" else builds[name]
    assert resources
    for resource in resources:
        try:
            validate(resource, version)
        except jsonschema.ValidationError as error:
            where = "/".join(str(p) for p in error.absolute_path)
            pytest.fail(
                f"{resource['kind']}/{resource['metadata']['name']} {where}: {error.message}"
            )


def test_the_validation_refuses_what_a_cluster_would(builds: dict[str, list[Resource]]) -> None:
    deployment = dict(named(builds["base"], "Deployment", "gateway"))
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(jsonschema.ValidationError):
        validate(deployment, KUBERNETES_VERSIONS[-1])
    scaled = named(builds["base"], "ScaledObject", "extractor")
    with pytest.raises(jsonschema.ValidationError, match="minReplicas"):
        validate({**scaled, "spec": {**scaled["spec"], "minReplicas": 0}}, "")
    cluster = database()
    with pytest.raises(jsonschema.ValidationError, match="left out"):
        validate({**cluster, "spec": {**cluster["spec"], "probes": {}}}, "")
    with pytest.raises(jsonschema.ValidationError, match="fastest"):
        validate({**cluster, "spec": {**cluster["spec"], "primaryUpdateMethod": "fastest"}}, "")


def test_the_kept_crds_are_not_applied() -> None:
    # They are only for the tests; the operators install their own.
    for directory in BUILDS.values():
        assert not any("crds" in entry for entry in kustomization(directory).get("resources", []))


# --- the kustomizations ----------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILDS)
def test_every_manifest_file_is_used(name: str) -> None:
    directory = BUILDS[name]
    spec = kustomization(directory)
    used = {entry for entry in spec.get("resources", []) if not entry.startswith("..")}
    used |= {patch["path"] for patch in spec.get("patches", [])}
    present = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
    assert present == used


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
@pytest.mark.parametrize("name", BUILDS)
def test_kubectl_builds_the_same(builds: dict[str, list[Resource]], name: str) -> None:
    # Where kubectl is installed, its kustomize must agree with deploy/kustomize.py (it orders
    # resources by kind; the content is what counts).
    output = subprocess.run(
        ["kubectl", "kustomize", str(BUILDS[name])],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "KUBECONFIG": os.devnull},
    ).stdout
    real = [doc for doc in yaml.safe_load_all(output) if doc]

    def key(resource: Resource) -> tuple[str, str]:
        return resource["kind"], resource["metadata"]["name"]

    assert sorted(real, key=key) == sorted(builds[name], key=key)


def test_the_standalone_manifests_live_in_the_namespace(builds: dict[str, list[Resource]]) -> None:
    [namespace] = of_kind(builds["production"], "Namespace")
    for resource in standalone():
        assert resource["metadata"]["namespace"] == namespace["metadata"]["name"]


# --- names, ports, settings, images ---------------------------------------------------------


@pytest.mark.parametrize("name", BUILDS)
def test_scaled_objects_name_the_pipelines_stream_and_consumers(
    builds: dict[str, list[Resource]], name: str
) -> None:
    resources = builds[name]
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(resources, "ScaledObject")}
    assert set(scaled) == set(WORKERS)
    assert {step.consumer for _, step in WORKERS.values()} == {s.consumer for s in PIPELINE}
    monitor_port = nats_values()["config"]["monitor"]["port"]
    for target, scaled_object in scaled.items():
        settings, step = WORKERS[target]
        named(resources, "Deployment", target)
        [trigger] = scaled_object["spec"]["triggers"]
        assert trigger["type"] == "nats-jetstream"
        metadata = trigger["metadata"]
        assert metadata["stream"] == WORK_STREAM
        assert metadata["consumer"] == step.consumer
        assert metadata["account"] == "$G"
        # The chart's headless Service (every node) on its monitoring port.
        host, port = metadata["natsServerMonitoringEndpoint"].rsplit(":", 1)
        assert host.startswith("nats-headless.nats.")
        assert int(port) == monitor_port
        # In-flight messages count as lag: a replica's share is what it holds at once.
        in_flight = default(settings, "max_in_flight")
        assert int(metadata["lagThreshold"]) == in_flight
        env = environment(resources, container(resources, target))
        assert env.get("INVOICEFLOW_MAX_IN_FLIGHT", str(in_flight)) == metadata["lagThreshold"]
        assert int(metadata["activationLagThreshold"]) >= 0


@pytest.mark.parametrize("name", BUILDS)
def test_ports_and_probes_are_the_settings_defaults(
    builds: dict[str, list[Resource]], name: str
) -> None:
    resources = builds[name]
    expected = {"gateway": default(GatewaySettings, "port")} | {
        worker: default(settings, "metrics_port") for worker, (settings, _) in WORKERS.items()
    }
    assert expected == {"gateway": 8000, "extractor": 9101, "validator": 9102, "persister": 9103}
    for service, port in expected.items():
        spec = container(resources, service)
        assert [p["containerPort"] for p in spec["ports"]] == [port]
        if service != "gateway":
            assert environment(resources, spec).get("INVOICEFLOW_METRICS_PORT") == str(port)
        paths = {
            "startupProbe": "/healthz",
            "livenessProbe": "/healthz",
            "readinessProbe": "/readyz",
        }
        for probe, path in paths.items():
            http = spec[probe]["httpGet"]
            assert (http["path"], port_number(spec, http["port"])) == (path, port)
        [service_port] = named(resources, "Service", service)["spec"]["ports"]
        assert port_number(spec, service_port["targetPort"]) == port
        if service != "gateway":  # workers: the metrics port only
            assert service_port["port"] == port


@pytest.mark.parametrize("name", BUILDS)
def test_every_variable_set_is_a_setting_of_its_service(
    builds: dict[str, list[Resource]], name: str
) -> None:
    resources = builds[name]
    for service, _ in pods(resources):
        env = environment(resources, container(resources, service))
        unknown = set(env) - env_names(SETTINGS[service]) - OTEL_VARIABLES
        assert not unknown, f"{service} reads no {sorted(unknown)}"


@pytest.mark.parametrize("name", BUILDS)
def test_the_settings_accept_every_value_set(
    builds: dict[str, list[Resource]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = builds[name]
    for service, _ in pods(resources):
        env = environment(resources, container(resources, service))
        with monkeypatch.context() as patched:
            for variable in os.environ:
                if variable.startswith(("INVOICEFLOW_", "OPENAI_", "OTEL_")) or variable in {
                    "NATS_URL",
                    "DATABASE_URL",
                }:
                    patched.delenv(variable)
            for variable, value in env.items():
                patched.setenv(variable, SECRET_STAND_INS[variable] if value is None else value)
            settings = SETTINGS[service]()
        assert isinstance(settings, NatsSettings)
        assert settings.nats_servers


@pytest.mark.parametrize("name", BUILDS)
def test_secrets_read_are_the_ones_provided(builds: dict[str, list[Resource]], name: str) -> None:
    resources = builds[name]
    cluster = database()
    provided: dict[str, set[str]] = {
        # CloudNativePG writes <cluster>-app for the application user, `uri` among its keys.
        f"{cluster['metadata']['name']}-app": {"uri"},
    }
    for secret in of_kind(standalone(), "Secret"):
        provided[secret["metadata"]["name"]] = set(secret["stringData"])
    for service, _ in pods(resources):
        for variable in container(resources, service).get("env", []):
            if ref := variable.get("valueFrom", {}).get("secretKeyRef"):
                assert ref["key"] in provided[ref["name"]], (service, ref)
                assert variable["name"] in SECRET_STAND_INS
    for secret in of_kind(resources, "Secret"):  # dev's stand-in has the same keys
        assert set(secret["stringData"]) == provided[secret["metadata"]["name"]]


def test_images_and_commands_are_docker_composes(builds: dict[str, list[Resource]]) -> None:
    services = compose()["services"]
    base = builds["base"]
    for service in ("gateway", "extractor", "validator", "persister"):
        spec = container(base, service)
        assert spec["image"] == services[service]["image"]
        assert spec["command"] == services[service]["command"]
    migrate = container(base, "migrate")
    assert migrate["image"] == services["persister"]["image"]
    assert migrate["command"] == ["python", "-m", "services.persister.migrate"]
    assert (REPO / "services/persister/migrate.py").exists()


def test_production_pins_the_same_images_at_a_version(builds: dict[str, list[Resource]]) -> None:
    base, production = builds["base"], builds["production"]
    for service, _ in pods(production):
        ours, _, _ = split_image(container(base, service)["image"])
        name, tag, digest = split_image(container(production, service)["image"])
        assert name.rsplit("/", 1)[-1] == ours
        assert (tag and tag != "latest") or digest


# --- lifecycle, sizing, security -----------------------------------------------------------


@pytest.mark.parametrize("name", BUILDS)
def test_termination_grace_covers_the_drain(builds: dict[str, list[Resource]], name: str) -> None:
    resources = builds[name]
    for worker, (settings, _) in WORKERS.items():
        env = environment(resources, container(resources, worker))
        drain = float(env.get("INVOICEFLOW_DRAIN_SECONDS") or default(settings, "drain_seconds"))
        assert drain == default(settings, "drain_seconds") == 20
        grace = named(resources, "Deployment", worker)["spec"]["template"]["spec"]
        assert grace["terminationGracePeriodSeconds"] == 30 >= drain + 5
    gateway = container(resources, "gateway")
    drain = float(environment(resources, gateway)["INVOICEFLOW_DRAIN_SECONDS"] or 0)
    assert drain == default(GatewaySettings, "drain_seconds")
    pre_stop = gateway["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    pod = named(resources, "Deployment", "gateway")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 15 >= float(pre_stop[1]) + drain + 5


@pytest.mark.parametrize("name", BUILDS)
def test_memory_is_sized_from_the_measurements(
    builds: dict[str, list[Resource]], name: str
) -> None:
    resources = builds[name]
    for service, measured in MEASURED_MIB.items():
        resources_of = container(resources, service)["resources"]
        limit = mebibytes(resources_of["limits"]["memory"])
        request = mebibytes(resources_of["requests"]["memory"])
        assert request <= limit
        if service == "extractor":
            # The ceiling: the service plus every decode process at its heap cap.
            env = environment(resources, container(resources, service))
            processes = int(
                env.get("INVOICEFLOW_DECODE_PROCESSES")
                or default(ExtractorSettings, "decode_processes")
            )
            cap = int(
                env.get("INVOICEFLOW_DECODE_MEMORY_LIMIT_MB")
                or default(ExtractorSettings, "decode_memory_limit_mb")
            )
            assert limit >= EXTRACTOR_SERVICE_MIB + processes * cap > measured
            assert request >= EXTRACTOR_SERVICE_MIB
        elif service == "gateway":
            # The ceiling: the service plus every page-render process at its heap cap.
            env = environment(resources, container(resources, service))
            renders = int(
                env.get("INVOICEFLOW_PAGE_RENDERS") or default(GatewaySettings, "page_renders")
            )
            cap = int(
                env.get("INVOICEFLOW_PAGE_RENDER_MEMORY_MB")
                or default(GatewaySettings, "page_render_memory_mb")
            )
            assert limit >= GATEWAY_SERVICE_MIB + renders * cap
            assert 2 * measured <= GATEWAY_SERVICE_MIB and request >= measured
        else:
            assert limit >= 2 * measured and request >= measured


@pytest.mark.parametrize("name", BUILDS)
def test_pods_run_unprivileged_on_a_read_only_root(
    builds: dict[str, list[Resource]], name: str
) -> None:
    uid = re.search(r"--uid (\d+)", (REPO / "deploy/Dockerfile").read_text())
    assert uid
    for service, template in pods(builds[name]):
        pod = template["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid[1])
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        spec = container(builds[name], service)
        context = spec["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        [tmp] = [m for m in spec["volumeMounts"] if m["mountPath"] == "/tmp"]
        [volume] = [v for v in pod["volumes"] if v["name"] == tmp["name"]]
        assert "emptyDir" in volume
        assert {"cpu", "memory"} <= set(spec["resources"]["requests"])
        assert "memory" in spec["resources"]["limits"]


# --- scaling --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILDS)
def test_only_the_extractor_may_scale_to_zero(builds: dict[str, list[Resource]], name: str) -> None:
    # The validator and the persister also answer requests (rules, the invoice store).
    scaled = {s["metadata"]["name"]: s["spec"] for s in of_kind(builds[name], "ScaledObject")}
    assert scaled["validator"]["minReplicaCount"] >= 1
    assert scaled["persister"]["minReplicaCount"] >= 1
    extractor = scaled["extractor"]["minReplicaCount"]
    assert extractor == 0 if name == "dev" else extractor >= 1
    [hpa] = of_kind(builds[name], "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway"
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    for deployment in of_kind(builds[name], "Deployment"):
        assert "replicas" not in deployment["spec"], "the autoscalers own replicas"


def test_production_runs_more_replicas(builds: dict[str, list[Resource]]) -> None:
    def minimums(resources: list[Resource]) -> dict[str, int]:
        found = {
            s["metadata"]["name"]: s["spec"]["minReplicaCount"]
            for s in of_kind(resources, "ScaledObject")
        }
        [hpa] = of_kind(resources, "HorizontalPodAutoscaler")
        return found | {"gateway": hpa["spec"]["minReplicas"]}

    base, production = minimums(builds["base"]), minimums(builds["production"])
    assert all(production[name] > base[name] for name in base)
    assert all(count >= 2 for count in production.values())


# --- NATS and PostgreSQL ------------------------------------------------------------------


def test_nats_runs_three_durable_nodes() -> None:
    config = nats_values()["config"]
    assert config["cluster"] == {"enabled": True, "replicas": 3}
    jetstream = config["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["enabled"] is True
    # fsync before acking (the Jepsen note in the field notes).
    assert jetstream["merge"]["sync_interval"] == "always"
    assert config["monitor"] == {"enabled": True, "port": 8222}


def test_production_replicates_streams_on_every_nats_node(
    builds: dict[str, list[Resource]],
) -> None:
    data = named(builds["production"], "ConfigMap", "invoiceflow-common")["data"]
    replicas = nats_values()["config"]["cluster"]["replicas"]
    assert int(data["INVOICEFLOW_STREAM_REPLICAS"]) == replicas
    servers = NatsSettings(nats_url=data["NATS_URL"]).nats_servers
    assert servers == [
        f"nats://nats-{i}.nats-headless.nats.svc.cluster.local:4222" for i in range(replicas)
    ]
    assert data["INVOICEFLOW_LOG_FORMAT"] == "json"
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http")
    base = named(builds["base"], "ConfigMap", "invoiceflow-common")["data"]
    assert base["INVOICEFLOW_STREAM_REPLICAS"] == "1"


# --- network policies ---------------------------------------------------------------------


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "only In is understood here"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def peers(policy: Resource, direction: str) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """(peer, ports) of every rule of an ingress or egress policy."""
    for rule in policy["spec"].get(direction, []):
        for peer in rule.get("from" if direction == "ingress" else "to", [{}]):
            yield peer, [p["port"] for p in rule.get("ports", [])]


@pytest.mark.parametrize("name", BUILDS)
def test_network_policies_deny_all_but_what_the_services_need(
    builds: dict[str, list[Resource]], name: str
) -> None:
    resources = builds[name]
    policies = of_kind(resources, "NetworkPolicy")
    labels = {service: template["metadata"]["labels"] for service, template in pods(resources)}
    [deny] = [p for p in policies if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def allowed(service: str, direction: str) -> list[tuple[dict[str, Any], list[Any]]]:
        return [
            found
            for policy in policies
            if direction.capitalize() in policy["spec"]["policyTypes"]
            and selects(policy["spec"]["podSelector"], labels[service])
            for found in peers(policy, direction)
        ]

    def namespace_of(peer: dict[str, Any]) -> str | None:
        selector: dict[str, str] = peer.get("namespaceSelector", {}).get("matchLabels", {})
        return selector.get("kubernetes.io/metadata.name")

    for service in labels:
        from_outside = {namespace_of(peer) for peer, _ in allowed(service, "ingress")}
        assert ("ingress-nginx" in from_outside) == (service == "gateway")
        postgres = [p for p, ports in allowed(service, "egress") if 5432 in ports]
        assert bool(postgres) == (service in {"persister", "migrate"})
        nats = [p for p, ports in allowed(service, "egress") if namespace_of(p) == "nats"]
        assert bool(nats) == (service != "migrate")
    model = [p for p, ports in allowed("extractor", "egress") if 443 in ports]
    assert model and all("ipBlock" in peer for peer in model)
    # Webhooks: public addresses only, never the cluster's own ranges.
    webhooks = [p for p, ports in allowed("persister", "egress") if 443 in ports]
    assert webhooks and all("10.0.0.0/8" in peer["ipBlock"]["except"] for peer in webhooks)
    name_of_database = database()["metadata"]["name"]
    for peer, ports in allowed("persister", "egress"):
        if 5432 in ports:
            assert peer["podSelector"]["matchLabels"]["cnpg.io/cluster"] == name_of_database
