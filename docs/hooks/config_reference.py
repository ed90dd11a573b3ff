"""MkDocs hook: the configuration reference, generated from the schema at every build.

``reference/config.md`` is not a file in docs/: :func:`on_files` adds it, rendered from the
schema the workflow validates with, so the page cannot fall behind it. Per key: its type and
constraints, its default (or "required"), and what it means: the schema's ``description``, or,
where a key has none, the ``#`` comment written at it (above the key, or between the key and its
value), which is how much of the schema is documented.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from mkdocs.structure.files import File

SCHEMA = "workflow/schemas/config.schema.yaml"
PAGE = "reference/config.md"


def on_files(files, config):
    schema = Path(config.config_file_path).parent / SCHEMA
    files.append(File.generated(config, PAGE, content=render(schema.read_text())))
    return files


def key_comments(text: str) -> dict[tuple, str]:
    """The ``#`` comment of each mapping key, by its path of keys in the document: the comment
    lines right above the key at its indentation, then those between the key and its value."""
    lines = text.splitlines()
    found: dict[tuple, str] = {}

    def comment(number: int, indent: int | None = None) -> str | None:
        """The text of line ``number`` if it is a comment (starting at ``indent``, if given)."""
        line = lines[number]
        if not line.lstrip().startswith("#") or indent not in (None, line.index("#")):
            return None
        return line.strip().lstrip("#").strip()

    def walk(node, path: tuple) -> None:
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, path + ("[]",))
        if not isinstance(node, yaml.MappingNode):
            return
        for key, value in node.value:
            row, indent, top = key.start_mark.line, key.start_mark.column, key.start_mark.line
            while top > 0 and comment(top - 1, indent) is not None:
                top -= 1
            words = [comment(number, indent) for number in range(top, row)]
            words += [w for number in range(row + 1, value.start_mark.line)
                      if (w := comment(number)) is not None]
            if words:
                found[path + (key.value,)] = " ".join(words)
            walk(value, path + (key.value,))

    walk(yaml.compose(text), ())
    return found


def kind(schema: dict) -> str:
    """A schema's type in words, with its constraints."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[`{name}`](#{name})"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" if v is None else f"`{v}`"
                                     for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "anyOf" in schema:
        return " or ".join(kind(alternative) for alternative in schema["anyOf"])
    types = schema.get("type", "any")
    words = []
    for name in types if isinstance(types, list) else [types]:
        if name == "array" and "prefixItems" in schema:
            words.append("[" + ", ".join(kind(item) for item in schema["prefixItems"]) + "]")
        elif name == "array":
            words.append("list" + (f" of {kind(schema['items'])}" if "items" in schema else ""))
        elif name == "object" and isinstance(schema.get("additionalProperties"), dict):
            words.append(f"mapping of names to {kind(schema['additionalProperties'])}")
        else:
            words.append(name)
    limits = [f"{sign} {schema[key]}" for key, sign in
              (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
               ("exclusiveMaximum", "<")) if key in schema]
    least, most = schema.get("minItems"), schema.get("maxItems")
    if least is not None:
        limits.append(f"{least} items" if least == most else f"at least {least} item"
                      + "s" * (least > 1))
    if schema.get("uniqueItems"):
        limits.append("distinct items")
    if "pattern" in schema:
        limits.append(f"matching `{schema['pattern']}`")
    return " or ".join(words) + (f" ({', '.join(limits)})" if limits else "")


def cell(text: str) -> str:
    """One table cell: one line, its bars escaped, and <words> (placeholders, not HTML) shown."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def default(schema: dict, required: bool) -> str:
    if "default" in schema:
        return f"`{json.dumps(schema['default'], ensure_ascii=False)}`"
    return "required" if required else ""


def rows(schema: dict, name: str, yaml_path: tuple, comments: dict, required: bool) -> list[str]:
    """Table rows of the key ``name`` and of the keys below it."""
    meaning = schema.get("description") or comments.get(yaml_path, "")
    out = [f"| `{name}` | {cell(kind(schema))} | {default(schema, required)} | {cell(meaning)} |"]
    if "properties" in schema:
        for key, child in schema["properties"].items():
            out += rows(child, f"{name}.{key}", yaml_path + ("properties", key), comments,
                        key in schema.get("required", ()))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and "properties" in extra:
        for key, child in extra["properties"].items():
            out += rows(child, f"{name}.<name>.{key}",
                        yaml_path + ("additionalProperties", "properties", key), comments,
                        key in extra.get("required", ()))
    items = schema.get("items")
    if isinstance(items, dict) and "properties" in items:
        for key, child in items["properties"].items():
            out += rows(child, f"{name}[].{key}", yaml_path + ("items", "properties", key),
                        comments, key in items.get("required", ()))
    return out


HEADER = ["| key | type | default | meaning |", "|---|---|---|---|"]


def render(text: str) -> str:
    schema, comments = yaml.safe_load(text), key_comments(text)
    out = ["# Configuration reference", "",
           f"Every key of the configuration, generated from `{SCHEMA}` each time the site is "
           "built (the workflow and every `resim`/`rs3l` command validate against the same "
           "file). A key not given takes its default; an unknown key stops the run naming it. "
           "What the sections are for, the presets and what re-runs when a section changes: "
           "[Configuration](../configuration.md).", ""]
    for section, child in schema["properties"].items():
        required = section in schema.get("required", ())
        out += [f"## `{section}`", "", *HEADER,
                *rows(child, section, ("properties", section), comments, required), ""]
    out += ["## Shared definitions", ""]
    for name, child in schema.get("$defs", {}).items():
        meaning = child.get("description") or comments.get(("$defs", name), "")
        out += [f"### `{name}`", "", *([cell(meaning), ""] if meaning else []),
                f"Type: {kind(child)}.", ""]
    return "\n".join(out)
