"""Runs inside the booted Debian tree of test_systemd_boot.py, as root, once
the boot is done: gathers what systemd made of matcached.service and its
mount, uses the service from a member of the group matcache, reloads and
stops it, and writes what it saw to OUT/result.json (the test asserts on
it; a step that fails records its error and the rest still run). Then ends
the boot: the container exits.

usage: boot_check.py CHECK_DIR OUT"""

import json
import pathlib
import subprocess
import sys
import time
import traceback
import urllib.request

check_dir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
SERVICE = "matcached.service"
MEMBER = "member"
SOCKET = "unix:/run/matcache/matcached.sock"
result = {}


def command(*args, timeout=120):
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return {"code": done.returncode, "out": done.stdout, "err": done.stderr}


def show(unit, *properties):
    """systemctl show's PROPERTY=VALUE lines of `unit`, as a dict."""
    done = command("systemctl", "show", unit, *[f"--property={p}" for p in properties])
    return dict(line.split("=", 1) for line in done["out"].splitlines() if "=" in line)


def step(name, function):
    try:
        result[name] = function()
    except Exception:  # recorded for the test, which fails on it
        result[name] = {"error": traceback.format_exc()}


def as_member(*args):
    return command("setpriv", "--reuid", MEMBER, "--regid", MEMBER,
                   "--init-groups", "--", *args)


def reload():
    pid = show(SERVICE, "MainPID")["MainPID"]
    reloaded = command("systemctl", "reload", SERVICE)
    return {"reload": reloaded, "pid_before": pid,
            "after": show(SERVICE, "ActiveState", "SubState", "MainPID"),
            "info": as_member("/usr/bin/matcache", "--address", SOCKET, "info",
                              "shared")}


def stop():
    stopped = command("systemctl", "stop", SERVICE)
    return {"stop": stopped,
            "after": show(SERVICE, "ActiveState", "Result", "ExecMainStatus"),
            "segments": sorted(p.name for p in
                               pathlib.Path("/var/lib/matcache/shm").glob("*.shm"))}


def healthz():
    with urllib.request.urlopen("http://127.0.0.1:7471/healthz", timeout=10) as r:
        return {"status": r.status, "body": r.read().decode()}


step("system", lambda: command("systemctl", "is-system-running", "--wait"))
step("failed", lambda: command("systemctl", "list-units", "--failed",
                               "--no-legend", "--plain"))
step("service", lambda: show(SERVICE, "ActiveState", "SubState", "Type",
                             "StatusText", "User", "NRestarts", "MainPID"))
step("mount", lambda: command("findmnt", "--noheadings", "--output",
                              "FSTYPE,OPTIONS", "/var/lib/matcache/shm"))
step("socket", lambda: command("stat", "--format", "%U %G %a",
                               "/run/matcache", "/run/matcache/matcached.sock"))
step("useradd", lambda: command("useradd", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", "--groups", "matcache", MEMBER))
step("member", lambda: as_member("/usr/bin/python3",
                                 str(check_dir / "member_client.py"),
                                 SOCKET, "/var/lib/matcache/shm"))
step("healthz", healthz)
step("security", lambda: command("systemd-analyze", "security", "--no-pager",
                                 SERVICE))
step("reload", reload)
step("stop", stop)
step("journal", lambda: command("journalctl", "--no-pager", "--output=cat",
                                "--unit", SERVICE))
(out / "result.json").write_text(json.dumps(result, indent=1))
time.sleep(0.1)
subprocess.run(["systemctl", "exit", "0"])
