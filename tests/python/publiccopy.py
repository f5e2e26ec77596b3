"""A copy of the matcache package (with its generated stubs) that every
user can read, for tests that run code as another user: the checkout and
the build may sit where only their owner can read. Standard library only."""

import os
import pathlib
import shutil
import tempfile

import matcache


def _open_to_everyone(directory):
    """Whether every user may look up names in `directory` and in every
    directory above it."""
    path = pathlib.Path(directory).resolve()
    return all(os.stat(p).st_mode & 0o001 for p in (path, *path.parents))


def public_copy(*helpers):
    """A fresh directory, reachable and readable by every user, holding a
    copy of the matcache package this process imports and of the files
    `helpers`; put it on PYTHONPATH. The caller removes it."""
    parent = next((d for d in (tempfile.gettempdir(), "/tmp")
                   if _open_to_everyone(d)), None)
    assert parent is not None, (
        f"neither {tempfile.gettempdir()} nor /tmp is open to every user")
    target = pathlib.Path(tempfile.mkdtemp(prefix="matcache-client-",
                                           dir=parent))
    package = pathlib.Path(matcache.__file__).resolve().parent
    shutil.copytree(package, target / "matcache",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for helper in helpers:
        shutil.copy(helper, target / pathlib.Path(helper).name)
    for root, _, files in os.walk(target):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    assert _open_to_everyone(target), target
    return target
