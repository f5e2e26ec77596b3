"""The C++ client as a package: `cmake --install` puts the library, its
headers and a CMake package config under a prefix, and a project of its
own builds against them with find_package(matcache) and links
matcache::client, with none of gRPC's or the server's headers nor any
symbol but the client API's."""

import os
import re

from deploysupport import BUILD, build_consumer, run

# What the library may export (libmatcache_client.map): the API of the
# headers, not the core, the protobuf messages or gRPC linked into it.
EXPORTED = re.compile(
    r"matcache::(AllDTypes|DefaultAddress|DTypeFromCode|DTypeFromName|"
    r"GetDTypeInfo|ServerFile|SegmentId::(Random|ToHex)|Client::(~?Client|Connect|address|Get|Put|ReadInto|"
    r"PreviewInto|Info|List|Delete|Watch)|MappedMatrix::Open|"
    r"WatchStream::(~?WatchStream|Next|Cancel))[(\[].*")

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
    env = dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib"))
    output = run([program], env=env)
    assert re.fullmatch(r"status: (NOT_FOUND|UNAVAILABLE): .+\n", output), output
    assert "unix:/nonexistent/s.sock" in output
    # Every call of the API links, and fails cleanly with no server.
    every_call = run([program, "unix:/nonexistent/s.sock"], env=env)
    assert "float64 1 1" in every_call, every_call

    library = next((prefix / "lib").glob("libmatcache_client.so.*.*"))
    exported = run(["nm", "-D", "--defined-only", "--demangle", library])
    symbols = [line.split(" ", 2)[2] for line in exported.splitlines()]
    assert any(s.startswith("matcache::Client::Connect(") for s in symbols)
    assert [s for s in symbols if not EXPORTED.fullmatch(s)] == []
