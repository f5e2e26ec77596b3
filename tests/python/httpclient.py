"""A small client of the HTTP gateway for the tests, on http.client: one
connection per request, plain HTTP or HTTPS, with an optional bearer token,
whole or chunked bodies, and checks of problem+json answers."""

import http.client
import io
import json
import re
import urllib.request

import numpy as np

PROBLEM_TYPE = "application/problem+json"


class Response:
    """One answer: `status`, `headers` (case-insensitive lookup) and the
    whole `body` as bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def npy(self):
        """The body as an .npy file, read by numpy."""
        return np.load(io.BytesIO(self.body), allow_pickle=False)

    def __repr__(self):
        return f"Response({self.status}, {self.body[:300]!r})"


class Gateway:
    """Requests to the gateway at `address` (HOST:PORT), over HTTPS with the
    ssl.SSLContext `ssl_context` if given, sending `token` (if not None) as
    "Authorization: Bearer TOKEN"."""

    def __init__(self, address, token=None, ssl_context=None):
        self.address = address
        self.token = token
        self.ssl_context = ssl_context

    def with_token(self, token):
        return Gateway(self.address, token, self.ssl_context)

    def connect(self, timeout=30):
        host, port = self.address.rsplit(":", 1)
        if self.ssl_context is not None:
            return http.client.HTTPSConnection(
                host, int(port), timeout=timeout, context=self.ssl_context)
        return http.client.HTTPConnection(host, int(port), timeout=timeout)

    def _headers(self, headers):
        sent = {}
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        sent.update(headers or {})
        return sent

    def request(self, method, path, body=None, headers=None):
        """Sends one request; a bytes `body` goes with a Content-Length of
        its size unless `headers` gives one."""
        connection = self.connect()
        try:
            connection.request(method, path, body=body,
                               headers=self._headers(headers))
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def chunked(self, method, path, chunks, headers=None):
        """Sends the body `chunks` (bytes each) with chunked transfer
        encoding: no Content-Length, so only the body says where it ends."""
        connection = self.connect()
        try:
            connection.putrequest(method, path)
            for key, value in self._headers(headers).items():
                connection.putheader(key, value)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for chunk in chunks:
                if chunk:
                    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.send(b"0\r\n\r\n")
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def put(self, path, body, headers=None):
        return self.request("PUT", path, body=body, headers=headers)

    def delete(self, path):
        return self.request("DELETE", path)


def npy_bytes(array):
    """`array` as the bytes of an .npy file, as np.save writes it (Fortran
    order for an array that is Fortran- but not C-contiguous)."""
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def assert_problem(response, status, grpc_code, *words):
    """Asserts that `response` is the problem+json answer `status` with
    `grpc_code` whose detail contains each of `words`; returns the
    problem."""
    assert response.status == status, response
    assert response.headers["Content-Type"] == PROBLEM_TYPE, response
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "grpc_code"}
    assert problem["status"] == status and problem["grpc_code"] == grpc_code, \
        problem
    assert problem["title"], problem
    for word in words:
        assert word in problem["detail"], (word, problem)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    return problem


def requests_total(http_address, transport, method):
    """matcache_requests_total of `method` over `transport` ("grpc" or
    "http"), all codes summed, from the server's /metrics."""
    with urllib.request.urlopen(f"http://{http_address}/metrics",
                                timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for labels, value in re.findall(
            r'^matcache_requests_total\{([^}]*)\} (\S+)$', text, re.M):
        if f'transport="{transport}"' in labels and \
                f'method="{method}"' in labels:
            total += float(value)
    return total
