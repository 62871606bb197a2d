"""``govbus adapter new NAME``: an installable adapter package that passes the kit.

The templates beside this module are rendered with ``string.Template`` (``$name``,
``$Name``, ``$title``, ``$prefix``, ...), so the code in them keeps its own braces. What
they render is formatted and lint-clean under govbus's own ruff settings whatever the
name and title (long values are already split where ruff would split them), and the
package is created outside the govbus checkout: it is a project of its own, and inside
the checkout ``make lint`` and ``make test`` would take it for govbus's code.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from govbus.plugins import installed_adapters, settings_prefix

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
# the govbus checkout this tool runs from (an installed, non-editable govbus has none)
CHECKOUT = Path(__file__).resolve().parents[2]


def _checkout() -> Path | None:
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "govbus").is_dir():
        return CHECKOUT
    return None


def _literal(text: str) -> str:
    """A Python string literal of ``text`` quoted as ruff format quotes it."""
    if '"' in text and "'" not in text:
        return "'" + text.replace("\\", "\\\\") + "'"
    return json.dumps(text, ensure_ascii=False)


def new_adapter(name: str, directory: str | Path = ".", title: str | None = None) -> Path:
    """Write ``govbus-adapter-NAME/`` under ``directory``; refuses to overwrite."""
    if not NAME.match(name):
        raise ValueError(
            "an adapter name is 2-40 characters: a lower-case letter, then letters, digits or _"
        )
    taken = installed_adapters().get(name)
    if taken is not None:
        kind = "a built-in one" if taken.value.startswith("adapters.") else taken.value
        raise ValueError(
            f"{name!r} is already the name of an installed adapter ({kind}); the host "
            "would not know which to load: choose another name"
        )
    root = Path(directory) / f"govbus-adapter-{name.replace('_', '-')}"
    checkout = _checkout()
    if checkout is not None and root.resolve().is_relative_to(checkout):
        raise ValueError(
            f"{root} would be inside the govbus checkout ({checkout}), where `make lint` "
            "and `make test` take it for govbus's own code; an adapter is a package of its "
            "own: create it beside the checkout, e.g. --dir .."
        )
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    title = " ".join((title or f"{name} partner system").split())  # one line
    values = {
        "name": name,
        "Name": "".join(part.capitalize() for part in name.split("_")),
        "title": title,
        "title_literal": _literal(title),
        "title_doc": title.replace("\\", "/").replace('"', "'"),  # inside a docstring
        "description_literal": json.dumps(f"govbus adapter: {title}", ensure_ascii=False),  # TOML
        "prefix": settings_prefix(name),  # what the host reads the settings from
    }
    for template, target in FILES.items():
        text = string.Template((TEMPLATES / template).read_text(encoding="utf-8"))
        path = root / string.Template(target).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.substitute(values), encoding="utf-8")
    return root
