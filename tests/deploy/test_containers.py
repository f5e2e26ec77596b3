"""deploy/docker and deploy/kubernetes, checked offline (no image can be
built or run here): the Dockerfile builds with CI's commands and runs as a
non-root user with a health check; the compose file shares the host's
tmpfs and socket directory, never the server's IPC namespace; every
Kubernetes document is a valid object of its kind by the API models of
the kubernetes Python client, field names and types strictly."""

import re

import kubernetes.client
import pytest
import yaml

from deploysupport import REPO

DOCKER = REPO / "deploy" / "docker"
KUBERNETES = REPO / "deploy" / "kubernetes"
SHM_DIR = "/var/lib/matcache/shm"
SOCKET_DIR = "/run/matcache"
GROUP_ID = 7470
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float),
              "object": object}


def test_dockerfile_builds_as_ci_does_and_runs_unprivileged():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert stages == ["debian:bookworm", "debian:bookworm-slim"]
    ci = (REPO / "deploy" / "run-tests.sh").read_text()
    for command in ["deploy/install-deps.sh",
                    "cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo",
                    'cmake --build build -j"$(nproc)"']:
        assert command in ci and command in dockerfile, command
    (user,) = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user.split(":")[0] not in ("root", "0")
    assert f"--uid {GROUP_ID}" in dockerfile and f"--gid {GROUP_ID}" in dockerfile
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*(?:\n .*)*", dockerfile, re.M)
    assert "/healthz" in healthcheck


def _binds(service):
    return {v["target"]: v for v in service["volumes"] if v["type"] == "bind"}


def test_compose_shares_host_directories_not_ipc():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    server, client = services["matcached"], services["client"]
    assert server["build"]["dockerfile"] == "deploy/docker/Dockerfile"
    for service in services.values():
        assert "ipc" not in service and "shm_size" not in service
        assert service["user"].split(":")[0] != "0"
        assert service["read_only"] is True
    for target in (SHM_DIR, SOCKET_DIR):
        assert _binds(server)[target]["source"] == _binds(client)[target]["source"]
        assert not _binds(server)[target].get("read_only", False)
        assert _binds(client)[target]["read_only"] is True
    assert str(GROUP_ID) in client["group_add"]
    assert client["environment"]["MATCACHE_ADDRESS"] == (
        f"unix:{SOCKET_DIR}/matcached.sock")
    assert client["depends_on"]["matcached"]["condition"] == "service_healthy"
    # Published on the host's loopback only.
    assert all(p.startswith("127.0.0.1:") for p in server["ports"])


def _check(data, type_name, path):
    """Asserts that `data` is a `type_name` of the kubernetes models
    ("V1Pod", "list[V1Container]", "dict(str, str)", "int", ...): every
    key a field of its model, every value of the field's type."""
    if type_name.startswith("list["):
        assert isinstance(data, list), f"{path}: not a list"
        for i, item in enumerate(data):
            _check(item, type_name[5:-1], f"{path}[{i}]")
    elif type_name.startswith("dict("):
        assert isinstance(data, dict), f"{path}: not a mapping"
        value_type = type_name[5:-1].split(", ", 1)[1]
        for key, value in data.items():
            assert isinstance(key, str), f"{path}: key {key!r}"
            _check(value, value_type, f"{path}.{key}")
    elif type_name in PRIMITIVES:
        wanted = PRIMITIVES[type_name]
        assert isinstance(data, wanted) and not (
            type_name == "int" and isinstance(data, bool)), (
            f"{path}: {data!r} is not {type_name}")
    else:
        model = getattr(kubernetes.client.models, type_name)
        assert isinstance(data, dict), f"{path}: not a {type_name}"
        fields = {json: attr for attr, json in model.attribute_map.items()}
        unknown = set(data) - set(fields)
        assert not unknown, f"{path}: {type_name} has no field {sorted(unknown)}"
        for key, value in data.items():
            _check(value, model.openapi_types[fields[key]], f"{path}.{key}")


def _documents():
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            yield path.name, document


def _model_name(document):
    group_version = document["apiVersion"].split("/")[-1]
    return group_version.capitalize() + document["kind"]


@pytest.mark.parametrize("name,document", list(_documents()),
                         ids=lambda x: x if isinstance(x, str) else "")
def test_every_kubernetes_document_is_a_valid_object(name, document):
    model_name = _model_name(document)
    _check(document, model_name, name)
    # The client's own deserializer: required fields and enumerations.
    api = kubernetes.client.ApiClient()
    obj = api._ApiClient__deserialize(document, model_name)
    assert api.sanitize_for_serialization(obj) == document
    assert obj.metadata.namespace in (None, "matcache")


def _by_kind():
    return {document["kind"]: document for _, document in _documents()}


def test_daemonset_shares_the_node_directories_unprivileged():
    kinds = _by_kind()
    assert set(kinds) == {"Namespace", "ConfigMap", "DaemonSet", "Service",
                          "Deployment", "NetworkPolicy"}
    pod = kinds["DaemonSet"]["spec"]["template"]
    spec = pod["spec"]
    context = spec["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] != 0
    assert GROUP_ID in context["supplementalGroups"]
    assert context["fsGroup"] == GROUP_ID
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"requests", "limits"} <= set(container["resources"])
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "7471"
    # Covers the 5 s the server gives running calls, and the clean-up.
    assert spec["terminationGracePeriodSeconds"] >= 10
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for directory in (SHM_DIR, SOCKET_DIR):
        assert volumes[mounts[directory]]["hostPath"]["path"] == directory
    assert not any("emptyDir" in v for v in spec["volumes"])
    flags = kinds["ConfigMap"]["data"]["matcached.flags"]
    assert f"--shm_dir={SHM_DIR}" in flags.split()
    assert f"--listen=unix:{SOCKET_DIR}/matcached.sock,0.0.0.0:7470" in flags.split()


def test_dashboard_mounts_the_same_paths_read_only_and_the_service_ports():
    kinds = _by_kind()
    spec = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    for mount in container["volumeMounts"]:
        assert mount["readOnly"] is True
        assert volumes[mount["name"]]["hostPath"]["path"] == mount["mountPath"]
    assert GROUP_ID in spec["securityContext"]["supplementalGroups"]
    ports = {p["name"]: p["port"] for p in kinds["Service"]["spec"]["ports"]}
    assert ports == {"grpc": 7470, "http": 7471}
    policy = kinds["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == (
        kinds["DaemonSet"]["spec"]["selector"]["matchLabels"])
