"""The environment header printed above every benchmark table."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

PACKAGES = ("taskmaster-pro", "filelock", "orjson", "click", "falcon", "waitress", "watchdog")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> dict[str, object]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
    }


def header(env: dict[str, object]) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v)  # type: ignore[union-attr]
    return (
        f"CPU: {env['cpu']} ({env['cores']} cores) | Python {env['python']} | "
        f"{env['platform']}\n{packages}"
    )
