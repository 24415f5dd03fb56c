"""Chat templates for models that have none (base models): the recipe's `model.chat_template`."""

from __future__ import annotations

from pathlib import Path

from alignkit.errors import AlignkitError

NO_TEMPLATE_FIX = ("set the recipe's `model: {name: ..., chat_template: FILE_OR_JINJA}` (docs/recipes.md shows a "
                   "question/answer template for base models), or use an instruct model")


def chat_template_text(value: str) -> str:
    """A `chat_template` option: the contents of a template file, or the Jinja template itself."""
    if "{{" in value or "{%" in value:
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise AlignkitError(f"chat_template {value!r} is neither a file nor a Jinja template",
                            where="model.chat_template", fix="give a template file's path, or the template "
                            "text itself (it contains {% ... %} or {{ ... }})")
    return path.read_text(encoding="utf-8")
