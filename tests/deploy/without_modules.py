"""`python -m tests.deploy.without_modules PACKAGE MODULE...`: import every module of PACKAGE
while MODULE... cannot be imported, as in an image that does not install them. Exits non-zero
(with the traceback) when any import needs one of them."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType


class Blocked(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self._names = names

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self._names:
            raise ImportError(f"{fullname} is not installed in this image", name=fullname)
        return None


def main(package_name: str, blocked: set[str]) -> None:
    # First on the meta path, and nothing already imported: installed .pth hooks run early.
    sys.meta_path.insert(0, Blocked(blocked))
    for name in [name for name in sys.modules if name.partition(".")[0] in blocked]:
        del sys.modules[name]
    for name in blocked:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        raise SystemExit(f"{name} was importable: the check would prove nothing")
    package = importlib.import_module(package_name)
    for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
        importlib.import_module(module.name)


if __name__ == "__main__":
    main(sys.argv[1], set(sys.argv[2:]))
