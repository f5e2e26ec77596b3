"""The HTTP gateway (--http_listen): health, readiness and Prometheus
metrics, read with Python's urllib, checked with promtool and scraped by a
real Prometheus; errors as application/problem+json."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

import matcache
from serverproc import ServerProcess
from stalled import stalled_put

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"


def _get(address, path, method="GET"):
    """(status, headers, body bytes) of one request to the gateway."""
    request = urllib.request.Request(f"http://{address}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def gateway(start_server):
    srv = start_server()
    return srv, srv.http_address()


def test_health_and_readiness_need_no_token(gateway):
    srv, address = gateway
    assert _get(address, "/healthz")[::2] == (200, b"ok\n")
    assert _get(address, "/readyz")[::2] == (200, b"ready\n")


def test_a_server_shutting_down_is_not_ready(gateway):
    srv, address = gateway
    stalled_put(srv)  # keeps the shutdown in its grace
    srv.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "shutting down" not in srv.run_log():
        assert time.monotonic() < deadline, srv.run_log()
        time.sleep(0.01)
    assert _get(address, "/readyz")[::2] == (503, b"not ready\n")
    assert _get(address, "/healthz")[::2] == (200, b"ok\n")
    assert srv.process.wait(20) == 0


def test_metrics_pass_promtool_and_say_what_the_store_holds(gateway):
    srv, address = gateway
    with matcache.Client(srv.address) as c:
        c.put("secret-name", np.arange(100.0))
        c.info("secret-name")
        with pytest.raises(matcache.NotFoundError):
            c.info("absent-name")
        version = c.stats().version
    assert _get(address, "/healthz")[0] == 200  # 3 bytes sent
    status, headers, body = _get(address, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                             capture_output=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = body.decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    assert samples["matcache_matrices"] == 1
    assert samples["matcache_matrix_bytes"] == 800
    assert samples['matcache_lookups_total{result="hit"}'] >= 1
    assert samples['matcache_lookups_total{result="miss"}'] >= 1
    assert samples[f'matcache_build_info{{version="{version}"}}'] == 1
    for name in ("matcache_used_bytes", "matcache_budget_bytes",
                 "matcache_shm_free_bytes", "matcache_staging_writes",
                 "matcache_quarantined", "matcache_evictions_total",
                 "matcache_expirations_total", "matcache_loads_total"):
        assert name in samples, name
    assert samples['matcache_requests_total{code="OK",method="Info",'
                   'transport="grpc"}'] >= 1
    assert samples['matcache_requests_total{code="NOT_FOUND",method="Info",'
                   'transport="grpc"}'] >= 1
    assert any(key.startswith("matcache_request_duration_seconds_bucket")
               for key in samples)
    assert samples['matcache_sent_bytes_total{transport="http"}'] >= 3
    # Matrix names never become labels.
    assert "secret-name" not in text and "absent-name" not in text


def test_unknown_routes_and_methods_are_problems(gateway):
    _, address = gateway
    status, headers, body = _get(address, "/no/such/thing")
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 404 and problem["grpc_code"] == "NOT_FOUND"
    assert "/no/such/thing" in problem["detail"]
    status, headers, body = _get(address, "/healthz", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert json.loads(body)["title"] == "Method Not Allowed"


def test_a_second_server_cannot_take_the_http_port(gateway, tmp_path):
    srv, address = gateway
    other = ServerProcess(tmp_path, tmp_path, "other",
                          ["--http_listen", address])
    os.chmod(tmp_path, 0o700)
    # The later --http_listen wins over the default one.
    other.launch()
    assert other.wait_exit(20) == 1, other.run_log()
    assert f"cannot listen for HTTP on {address}" in other.run_log()
    assert _get(address, "/healthz")[0] == 200


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_real_prometheus_scrapes_the_gateway(gateway):
    srv, address = gateway
    with matcache.Client(srv.address) as c:
        for i in range(3):
            c.put(f"m{i}", np.zeros(10))
    workdir = tempfile.mkdtemp(prefix="matcache-prometheus-")
    port = _free_port()
    config = os.path.join(workdir, "prometheus.yml")
    with open(config, "w") as f:
        f.write(textwrap.dedent(f"""\
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: matcache
                static_configs:
                  - targets: ["{address}"]
            """))
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}",
         f"--storage.tsdb.path={workdir}/data",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        query = urllib.parse.urlencode({"query": "matcache_matrices"})
        deadline = time.monotonic() + 60
        while True:
            assert prometheus.poll() is None, "prometheus exited"
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v1/query?{query}",
                        timeout=5) as response:
                    result = json.load(response)["data"]["result"]
            except (urllib.error.URLError, ConnectionError):
                result = []  # not listening yet
            if result:
                break
            assert time.monotonic() < deadline, "prometheus never scraped"
            time.sleep(0.2)
        assert float(result[0]["value"][1]) == 3
        assert result[0]["metric"]["job"] == "matcache"
    finally:
        prometheus.terminate()
        prometheus.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


def _json(address, path, token=None, etag=None):
    """(status, headers, parsed body or None) of a GET with `token`."""
    request = urllib.request.Request(f"http://{address}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if etag is not None:
        request.add_header("If-None-Match", etag)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return response.status, response.headers, json.loads(body)
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, error.headers, json.loads(body) if body else None


def test_matrix_metadata_as_json_behind_the_access_token(gateway):
    srv, address = gateway
    token = srv.token_file.read_text().strip()
    with matcache.Client(srv.address) as c:
        put = c.put("prices", np.arange(12, dtype=np.float32).reshape(3, 4),
                    pin=True)
    status, headers, problem = _json(address, "/v1/matrices/prices")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert problem["grpc_code"] == "UNAUTHENTICATED"
    assert str(srv.token_file) in problem["detail"]
    assert _json(address, "/v1/matrices/prices", token="x" * 64)[0] == 403

    status, headers, info = _json(address, "/v1/matrices/prices", token)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert info == {
        "name": "prices", "shape": [3, 4], "dtype": "float32",
        "original_dtype": "float32", "nbytes": 48,
        "generation": put.generation, "id": put.id.hex(),
        "created": info["created"], "last_access": info["last_access"],
        "pinned": True, "expires": None, "source": ""}
    assert info["created"].endswith("Z")
    assert np.datetime64(info["last_access"][:-1]) >= \
        np.datetime64(info["created"][:-1])
    assert abs(np.datetime64(info["created"][:-1]) -
               np.datetime64(put.created.replace(tzinfo=None))) < \
        np.timedelta64(1, "ms")

    etag = headers["ETag"]
    assert etag.startswith('W/"')  # last_access may differ
    status, again, body = _json(address, "/v1/matrices/prices", token, etag)
    assert status == 304 and body is None and again["ETag"] == etag
    with matcache.Client(srv.address) as c:
        c.put("prices", np.zeros(2))
    status, replaced, _ = _json(address, "/v1/matrices/prices", token, etag)
    assert status == 200 and replaced["ETag"] != etag

    status, _, problem = _json(address, "/v1/matrices/absent", token)
    assert status == 404 and problem["grpc_code"] == "NOT_FOUND"
    assert "absent" in problem["detail"]


def _status(address, path, authorization, method="GET"):
    """(status, parsed body or None) of a request with that Authorization
    header."""
    request = urllib.request.Request(f"http://{address}{path}", method=method)
    request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body else None


def test_the_bearer_scheme_is_case_insensitive(gateway):
    srv, address = gateway
    token = srv.token_file.read_text().strip()
    for scheme in ("Bearer", "bearer", "BEARER"):
        status, body = _status(address, "/v1/stats", f"{scheme} {token}")
        assert status == 200 and "used_bytes" in body, (scheme, body)
    status, problem = _status(address, "/v1/stats", f"Basic {token}")
    assert status == 401 and problem["grpc_code"] == "UNAUTHENTICATED"


def test_the_v1_routes_refuse_parameters_they_do_not_take(gateway):
    srv, address = gateway
    auth = f"Bearer {srv.token_file.read_text().strip()}"
    with matcache.Client(srv.address) as c:
        c.put("kept", np.arange(3.0))
    for path, method, named, taken in [
            ("/v1/matrices?bogus=1", "GET", '"bogus"', "prefix, start_after, limit"),
            ("/v1/stats?x=1", "GET", '"x"', "none"),
            ("/v1/matrices/kept?fields=name", "GET", '"fields"', "none"),
            ("/v1/matrices/kept?force=1", "DELETE", '"force"', "none")]:
        status, problem = _status(address, path, auth, method)
        assert status == 400, (path, problem)
        assert problem["grpc_code"] == "INVALID_ARGUMENT"
        assert named in problem["detail"] and taken in problem["detail"]
    status, problem = _status(address, "/v1/matrices?limit=", auth)
    assert status == 400 and "limit=" in problem["detail"]
    # The refused DELETE deleted nothing.
    with matcache.Client(srv.address) as c:
        np.testing.assert_array_equal(c.get("kept"), np.arange(3.0))
        c.delete("kept")


def test_listing_pages_through_every_matrix(gateway):
    srv, address = gateway
    token = srv.token_file.read_text().strip()
    names = [f"m{i}" for i in range(5)]
    with matcache.Client(srv.address) as c:
        for name in names:
            c.put(name, np.zeros(1))
        c.put("other", np.zeros(1))
    assert _json(address, "/v1/matrices")[0] == 401
    seen, start = [], ""
    while True:
        status, _, page = _json(
            address, f"/v1/matrices?prefix=m&limit=2&start_after={start}", token)
        assert status == 200
        seen += [m["name"] for m in page["matrices"]]
        if page["next"] is None:
            break
        start = page["next"]
    assert seen == names
    status, _, problem = _json(address, "/v1/matrices?limit=zero", token)
    assert status == 400 and "limit=zero" in problem["detail"]
