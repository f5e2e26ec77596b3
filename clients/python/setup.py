"""Builds the matcache package: its sources, plus what CMake makes for the
build tree, made here at build time: the gRPC stubs (matcache.v1,
generated from protos/, never edited by hand) and matcache._version (the
project's version, from the top CMakeLists.txt)."""

import pathlib
import re
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROTOS = REPO / "protos"
GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"


def project_version():
    cmake = (REPO / "CMakeLists.txt").read_text()
    return re.search(r"project\(matcache VERSION (\S+)", cmake)[1]


class BuildPyWithStubs(build_py):
    """build_py, then the stubs and the version file in the build tree."""

    def run(self):
        super().run()
        out = pathlib.Path(self.build_lib)
        (out / "matcache" / "v1").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["protoc", f"--proto_path={PROTOS}", f"--python_out={out}",
             f"--grpc_python_out={out}",
             f"--plugin=protoc-gen-grpc_python={GRPC_PYTHON_PLUGIN}",
             str(PROTOS / "matcache" / "v1" / "matcache.proto")],
            check=True)
        (out / "matcache" / "v1" / "__init__.py").touch()
        template = (HERE / "matcache" / "_version.py.in").read_text()
        (out / "matcache" / "_version.py").write_text(
            template.replace("@PROJECT_VERSION@", project_version()))


setup(version=project_version(), cmdclass={"build_py": BuildPyWithStubs})
