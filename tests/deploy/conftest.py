"""Fixtures of the deployment tests."""

import pytest

from deploysupport import BUILD, VERSION, run


@pytest.fixture(scope="session")
def deb():
    """The package, built afresh in the build directory by `cpack -G DEB`."""
    for old in BUILD.glob("matcache_*.deb"):
        old.unlink()
    run(["cpack", "-G", "DEB"], cwd=BUILD, timeout=600)
    (package,) = BUILD.glob("matcache_*.deb")
    arch = run(["dpkg", "--print-architecture"]).strip()
    assert package.name == f"matcache_{VERSION}_{arch}.deb"
    return package
