"""Test certificates made with the `openssl` command: two CAs, a server
certificate for 127.0.0.1 and localhost, and client certificates."""

import pathlib
import subprocess


def _openssl(*args, cwd):
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                          text=True)
    assert done.returncode == 0, f"openssl {' '.join(args)}:\n{done.stderr}"


def _new_key(directory, name):
    key = directory / f"{name}.key"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-out", str(key), cwd=directory)
    key.chmod(0o600)
    return key


def make_ca(directory, name):
    """Makes a self-signed CA; returns (certificate, key) paths."""
    key = _new_key(directory, name)
    cert = directory / f"{name}.pem"
    _openssl("req", "-x509", "-new", "-key", str(key), "-out", str(cert),
             "-days", "2", "-subj", f"/CN=matcache test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)
    return cert, key


def issue(directory, name, ca, extensions):
    """Makes a key and a certificate that the CA `ca` (certificate, key)
    signs, with the X.509v3 `extensions` (lines of an openssl extension
    file); returns (certificate, key) paths."""
    key = _new_key(directory, name)
    request = directory / f"{name}.csr"
    cert = directory / f"{name}.pem"
    extfile = directory / f"{name}.ext"
    extfile.write_text("\n".join(extensions) + "\n")
    _openssl("req", "-new", "-key", str(key), "-out", str(request),
             "-subj", f"/CN=matcache test {name}", cwd=directory)
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca[0]),
             "-CAkey", str(ca[1]), "-CAcreateserial", "-out", str(cert),
             "-days", "2", "-extfile", str(extfile), cwd=directory)
    return cert, key


class TestCertificates:
    """Everything the TLS tests need, in `directory`: `ca` signs `server`
    (SAN IP:127.0.0.1, DNS:localhost) and `client`; `other_ca` signs
    `stranger`, a client certificate the server must not accept. Each is a
    (certificate, key) pair of paths."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, directory):
        directory = pathlib.Path(directory)
        self.ca = make_ca(directory, "ca")
        self.other_ca = make_ca(directory, "other-ca")
        self.server = issue(directory, "server", self.ca, [
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "extendedKeyUsage=serverAuth"])
        self.client = issue(directory, "client", self.ca,
                            ["extendedKeyUsage=clientAuth"])
        self.stranger = issue(directory, "stranger", self.other_ca,
                              ["extendedKeyUsage=clientAuth"])
