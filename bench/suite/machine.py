"""A one-line description of the machine a run measured."""

import os
import platform
import subprocess

from suite import samples


def _first_value(path, key):
    try:
        with open(path) as lines:
            for line in lines:
                name, _, value = line.partition(":" if ":" in line else "=")
                if name.strip() == key:
                    return value.strip().strip('"')
    except OSError:
        pass
    return None


def _detect_virt(flag):
    """What systemd-detect-virt `flag` names ("kvm", "docker"), or None."""
    try:
        found = subprocess.run(["systemd-detect-virt", flag],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
    return found if found and found != "none" else None


def _hands_back_memory():
    """Whether this VM's kernel has handed free memory back to its host
    (free page reporting), where it counts what it has."""
    try:
        with open(samples.REPORTED_KIB) as counter:
            return int(counter.read()) > 0
    except (OSError, ValueError):
        return False


def describe():
    """E.g. "2 cores (AMD EPYC), 24 GiB RAM, kvm virtual machine, docker
    container, free memory handed back to the host (free page reporting),
    Debian GNU/Linux 12 (bookworm), Linux 6.1.0"."""
    parts = [f"{os.cpu_count()} cores"]
    cpu = _first_value("/proc/cpuinfo", "model name")
    if cpu:
        parts[0] += f" ({cpu})"
    memory_kib = _first_value("/proc/meminfo", "MemTotal")
    if memory_kib:
        parts.append(f"{round(int(memory_kib.split()[0]) / (1 << 20))} GiB RAM")
    for kind, flag in (("virtual machine", "--vm"),
                       ("container", "--container")):
        found = _detect_virt(flag)
        if found:
            parts.append(f"{found} {kind}")
    if _hands_back_memory():
        parts.append("free memory handed back to the host (free page "
                     "reporting)")
    os_name = _first_value("/etc/os-release", "PRETTY_NAME")
    if os_name:
        parts.append(os_name)
    parts.append(f"Linux {platform.release()}")
    return ", ".join(parts)
