"""The package under a real systemd, as root: mmdebstrap makes a Debian
tree with the package installed and matcached.service enabled,
systemd-nspawn boots it, and inside it (boot/boot_check.py) the service has
come up from its units at boot (the huge-page tmpfs, the system user,
Type=notify with its status, the hardening), serves a member of the group
zero-copy and HTTP, takes `systemctl reload` without a restart and stops
cleanly, leaving the segments."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from deploysupport import EXPOSURE, run

HERE = pathlib.Path(__file__).resolve().parent
BOOT_SECONDS = 300
# With its updates and security mirrors (mmdebstrap adds them for a stable
# release named without a mirror).
SUITE = "bookworm"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="builds and boots a Debian tree: needs root")


@pytest.fixture(scope="module")
def booted(deb, tmp_path_factory):
    """What boot_check.py saw in the booted tree, as a dict."""
    for tool in ("mmdebstrap", "systemd-nspawn"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (deploy/install-deps.sh installs it)",
                        pytrace=False)
    top = tmp_path_factory.mktemp("boot")
    tree, out = top / "tree", top / "out"
    out.mkdir()
    unit = "matcache-boot-check.service"
    run(["mmdebstrap", "--variant=apt", "--include=systemd,systemd-sysv,dbus",
         f"--customize-hook=copy-in {deb.resolve()} /root",
         f"--customize-hook=chroot \"$1\" apt-get install --yes /root/{deb.name}",
         f"--customize-hook=cp {HERE / 'boot' / unit} \"$1\"/etc/systemd/system/",
         f"--customize-hook=chroot \"$1\" systemctl enable matcached.service {unit}",
         SUITE, tree], timeout=900, stdin=subprocess.DEVNULL)
    try:
        done = subprocess.run(
            ["systemd-nspawn", "--quiet", "--directory", tree, "--boot",
             "--register=no", "--keep-unit", "--console=read-only",
             "--machine=matcache-boot", f"--bind-ro={HERE}:/mnt/check",
             f"--bind={out}:/mnt/out"],
            env=dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1"),
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=BOOT_SECONDS)
        result = out / "result.json"
        assert result.exists(), (
            f"the boot check wrote nothing; systemd-nspawn exited with "
            f"{done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        seen = json.loads(result.read_text())
        errors = {step: value["error"] for step, value in seen.items()
                  if "error" in value}
        assert not errors, errors
        return seen
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def _journal(booted):
    return booted["journal"]["out"]


def test_the_service_comes_up_at_boot_notified_as_its_system_user(booted):
    service = booted["service"]
    assert (service["ActiveState"], service["SubState"], service["Type"],
            service["User"], service["NRestarts"]) == (
                "active", "running", "notify", "matcached", "0"), (
                    service, _journal(booted), booted["failed"])
    assert service["StatusText"].startswith("serving 0 matrices on unix:"
                                            "/run/matcache/matcached.sock")
    assert "matcached" not in booted["failed"]["out"], booted["failed"]


def test_the_segments_are_on_the_huge_page_tmpfs(booted):
    fstype, options = booted["mount"]["out"].split()
    assert fstype == "tmpfs"
    assert "huge=within_size" in options.split(","), options
    assert {"nosuid", "nodev", "noexec"} <= set(options.split(","))


def test_a_member_of_the_group_maps_the_segment_read_only(booted):
    assert booted["socket"]["out"].splitlines() == [
        "matcached matcache 750", "matcached matcache 660"], booted["socket"]
    assert booted["member"]["code"] == 0, booted["member"]
    assert json.loads(booted["member"]["out"]) == {
        "sum": float(sum(range(1 << 20))), "writeable": False, "mapped": True}
    assert booted["healthz"] == {"status": 200, "body": "ok\n"}


def test_the_hardening_holds_under_systemd(booted):
    # The service ran with all of it (above); systemd scores the running
    # unit as the README's offline figure.
    security = booted["security"]["out"]
    assert (f"Overall exposure level for matcached.service: {EXPOSURE} OK"
            in security), security


def test_reload_keeps_the_process_and_the_data(booted):
    reload = booted["reload"]
    assert reload["reload"]["code"] == 0, reload
    assert reload["after"] == {"ActiveState": "active", "SubState": "running",
                               "MainPID": reload["pid_before"]}, reload
    assert reload["info"]["code"] == 0 and "shared" in reload["info"]["out"]
    assert "SIGHUP: re-read the token files and TLS certificates" in \
        _journal(booted)


def test_stop_is_clean_and_keeps_the_segments(booted):
    stop = booted["stop"]
    assert stop["stop"]["code"] == 0, stop
    assert stop["after"] == {"ActiveState": "inactive", "Result": "success",
                             "ExecMainStatus": "0"}, (stop, _journal(booted))
    assert [name for name in stop["segments"] if ".shared." in name], stop
    assert "matcached stopped" in _journal(booted)
