"""One version for the project, from the top CMakeLists.txt, printed by both
commands and reported by the server; and a --help that lists every flag of
the server, grouped, with its default."""

import re
import subprocess
import sys

import matcache
from serverproc import CLI_SCRIPT, MATCACHED, REPO


def _project_version():
    text = (REPO / "CMakeLists.txt").read_text()
    return re.search(r"project\(matcache VERSION ([0-9.]+)", text)[1]


def test_both_commands_and_the_server_say_the_cmake_version(client):
    version = _project_version()
    done = subprocess.run([MATCACHED, "--version"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0
    assert done.stdout == f"matcached {version}\n"
    for cli in ([sys.executable, "-m", "matcache"], [str(CLI_SCRIPT)]):
        done = subprocess.run([*cli, "--version"], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"matcache {version}\n"
    assert matcache.__version__ == version
    assert client.stats().version == version


_GROUPS = {
    "listening": ["listen"],
    "storage": ["shm_dir", "namespace", "lock_wait_seconds", "data_dir",
                "preload_dir", "persist_dir", "verify_on_recover"],
    "cache_policy": ["max_bytes", "max_matrix_bytes", "evict_unsourced",
                     "spare_bytes", "spare_idle_seconds", "lease_seconds"],
    "access": ["group", "write_token_file", "read_token_file", "tcp_auth",
               "tls_cert", "tls_key", "tls_client_ca"],
    "limits": ["max_receive_message_bytes", "max_streams_per_connection",
               "grpc_memory", "stream_idle_seconds", "worker_threads"],
}


def test_help_lists_every_flag_grouped_with_its_default():
    done = subprocess.run([MATCACHED, "--help"], capture_output=True,
                          text=True, timeout=30)
    text = done.stdout + done.stderr
    sections = re.split(r"\n  Flags from server/matcached/(\w+)_flags\.cc:\n",
                        text)
    listed = dict(zip(sections[1::2], sections[2::2]))
    assert set(_GROUPS) <= set(listed), list(listed)
    for group, flags in _GROUPS.items():
        for flag in flags:
            entry = re.search(rf"--{flag} \((.*?)\);\s+default: ", listed[group],
                              re.S)
            assert entry, f"--{flag} not under {group}:\n{listed[group]}"
