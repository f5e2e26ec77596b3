"""What the deployment tests share: where the build and the sources are,
and running commands that must succeed."""

import os
import pathlib
import re
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
VERSION = re.search(r"project\(matcache VERSION (\S+)",
                    (REPO / "CMakeLists.txt").read_text())[1]
BUILD = pathlib.Path(os.environ.get("MATCACHE_BUILD_DIR", REPO / "build"))
CONSUMER = pathlib.Path(__file__).resolve().parent / "consumer"
# The exposure score systemd-analyze gives the service; the README quotes it.
EXPOSURE = "1.5"
# Run as a member of the group matcache (see its docstring).
MEMBER_CLIENT = pathlib.Path(__file__).resolve().parent / "member_client.py"


def run(command, timeout=300, **kwargs):
    """Runs `command`; returns its stdout, asserting it exited with 0."""
    done = subprocess.run([str(c) for c in command], capture_output=True,
                          text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))} exited with {done.returncode}:\n"
        f"{done.stdout}\n{done.stderr}")
    return done.stdout


def build_consumer(prefix, build_dir):
    """Configures and builds tests/deploy/consumer against the matcache
    package installed under `prefix`; returns the program's path."""
    run(["cmake", "-S", CONSUMER, "-B", build_dir,
         f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", build_dir])
    return pathlib.Path(build_dir) / "consumer"
