"""The C++ client as a package: `cmake --install` puts the library, its
headers and a CMake package config under a prefix, and a project of its
own builds against them with find_package(matcache) and links
matcache::client, with none of gRPC's or the server's headers."""

import os
import re

from deploysupport import BUILD, build_consumer, run

ALLOWED_INCLUDE = re.compile(
    r'#include [<"](matcache/[a-z_]+\.h|absl/[a-z_/]+\.h|xtensor/[a-z_]+\.hpp|'
    r'[a-z_]+)[>"]')


def test_a_consumer_builds_and_links_against_the_installed_client(tmp_path):
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", BUILD, "--prefix", prefix])
    headers = sorted((prefix / "include" / "matcache").glob("*.h"))
    assert "client.h" in [h.name for h in headers]
    for header in headers:
        for line in header.read_text().splitlines():
            if line.startswith("#include"):
                assert ALLOWED_INCLUDE.fullmatch(line), f"{header.name}: {line}"

    program = build_consumer(prefix, tmp_path / "consumer")
    output = run([program], env=dict(os.environ,
                                      LD_LIBRARY_PATH=str(prefix / "lib")))
    assert re.fullmatch(r"status: (NOT_FOUND|UNAVAILABLE): .+\n", output), output
    assert "unix:/nonexistent/s.sock" in output
