"""``govbus adapter new NAME``: an installable adapter package that passes the kit.

The templates beside this module are rendered with ``string.Template`` (``$name``,
``$Name``, ``$title``), so the code in them keeps its own braces.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "init.py.tmpl": "govbus_adapter_$name/__init__.py",
    "config.py.tmpl": "govbus_adapter_$name/config.py",
    "plugin.py.tmpl": "govbus_adapter_$name/plugin.py",
    "simulator.py.tmpl": "govbus_adapter_$name/simulator.py",
}
NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def new_adapter(name: str, directory: str | Path = ".", title: str | None = None) -> Path:
    """Write ``govbus-adapter-NAME/`` under ``directory``; refuses to overwrite."""
    if not NAME.match(name):
        raise ValueError(
            "an adapter name is 2-40 characters: a lower-case letter, then letters, digits or _"
        )
    root = Path(directory) / f"govbus-adapter-{name.replace('_', '-')}"
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    values = {
        "name": name,
        "Name": "".join(part.capitalize() for part in name.split("_")),
        "title": title or f"{name} partner system",
    }
    for template, target in FILES.items():
        text = string.Template((TEMPLATES / template).read_text(encoding="utf-8"))
        path = root / string.Template(target).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.substitute(values), encoding="utf-8")
    return root
