"""The systemd units in deploy/systemd: systemd-analyze verifies them
without a warning, their sandbox scores as the README says, and they agree
with the flags file and with each other; sysusers and tmpfiles make a
system user, the group and the mount point."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

from deploysupport import EXPOSURE, REPO
UNITS = REPO / "deploy" / "systemd"
SERVICE = "matcached.service"
MOUNT = "var-lib-matcache-shm.mount"
MATCACHED = os.environ.get("MATCACHED", str(REPO / "build" / "bin" / "matcached"))


def unit(name):
    """The unit file `name` as {section: {key: [values]}}."""
    sections = {}
    section = None
    for line in (UNITS / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        section.setdefault(key, []).append(value)
    return sections


def flags():
    """--name=value lines of matcached.flags, as a dict."""
    result = {}
    for line in (UNITS / "matcached.flags").read_text().splitlines():
        if line.startswith("--"):
            key, value = line[2:].split("=", 1)
            result[key] = value
    return result


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A root directory with the system's units, ours among them where the
    package puts them, and the programs our units run."""
    root = tmp_path_factory.mktemp("root")
    shutil.copytree("/lib/systemd/system", root / "lib/systemd/system",
                    symlinks=True)
    for name in (SERVICE, MOUNT):
        shutil.copy(UNITS / name, root / "lib/systemd/system" / name)
    for program, source in [("usr/bin/matcached", MATCACHED),
                            ("usr/bin/install", "/usr/bin/install"),
                            ("bin/kill", "/bin/kill")]:
        (root / program).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / program)
    return root


def test_systemd_analyze_verify_is_silent(root):
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}",
         f"/lib/systemd/system/{SERVICE}", f"/lib/systemd/system/{MOUNT}"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""


def test_exposure_score_is_the_one_the_readme_quotes(root):
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={root}",
         f"/lib/systemd/system/{SERVICE}"],
        capture_output=True, text=True)
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert score is not None, done.stdout + done.stderr
    assert score[1] == EXPOSURE
    assert f"exposure level of {EXPOSURE}" in (REPO / "README.md").read_text()


def test_service_is_notify_as_a_system_user_without_ipc_cleanup():
    service = unit(SERVICE)["Service"]
    assert service["Type"] == ["notify"]
    assert service["User"] == ["matcached"]
    # The clients' group: systemd gives the runtime directory to it again
    # whenever it starts a process for the unit.
    assert service["Group"] == ["matcache"]
    assert "SupplementaryGroups" not in service
    assert "DynamicUser" not in service
    assert service["RemoveIPC"] == ["no"]
    assert service["RuntimeDirectory"] == ["matcache"]
    assert service["RuntimeDirectoryMode"] == ["0750"]
    assert service["ExecStart"] == [
        "/usr/bin/matcached --flagfile=/etc/matcache/matcached.flags"]
    assert service["CapabilityBoundingSet"] == [""]
    for key in ("PrivateTmp", "NoNewPrivileges", "MemoryDenyWriteExecute"):
        assert service[key] == ["yes"], key
    assert service["ProtectSystem"] == ["strict"]
    assert service["SystemCallFilter"] == ["@system-service"]
    assert service["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]


def test_the_service_requires_the_tmpfs_and_serves_from_it():
    service = unit(SERVICE)
    mount = unit(MOUNT)["Mount"]
    shm_dir = flags()["shm_dir"]
    assert mount["Where"] == [shm_dir]
    # systemd names a mount unit after its path.
    assert MOUNT == shm_dir.strip("/").replace("/", "-") + ".mount"
    assert MOUNT in service["Unit"]["Requires"]
    assert MOUNT in service["Unit"]["After"][0].split()
    assert service["Service"]["ReadWritePaths"] == [shm_dir]
    (options,) = mount["Options"]
    options = options.split(",")
    assert "huge=within_size" in options
    assert len([o for o in options if o.startswith("size=")]) == 1
    assert flags()["group"] == "matcache"


def test_sysusers_and_tmpfiles_make_a_system_user_the_group_and_the_mount_point(
        tmp_path):
    (tmp_path / "etc").mkdir()
    for command in (["systemd-sysusers", f"--root={tmp_path}",
                     str(UNITS / "matcache.sysusers")],
                    ["systemd-tmpfiles", f"--root={tmp_path}", "--create",
                     str(UNITS / "matcache.tmpfiles")]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    users = {line.split(":")[0]: line.split(":")
             for line in (tmp_path / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: line.split(":")
              for line in (tmp_path / "etc/group").read_text().splitlines()}
    uid = int(users["matcached"][2])
    assert 0 < uid < 1000, "not a system user"
    assert users["matcached"][6] == "/usr/sbin/nologin"
    assert groups["matcache"][3].split(",") == ["matcached"]
    shm = (tmp_path / flags()["shm_dir"].lstrip("/")).stat()
    assert (shm.st_uid, shm.st_gid) == (uid, int(groups["matcache"][2]))
    assert shm.st_mode & 0o7777 == 0o750
