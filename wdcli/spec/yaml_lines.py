"""YAML with line numbers: the spec's plain data plus a map from each YAML path to its line, so that every
problem can name the line it is on."""

from __future__ import annotations

from typing import Any

import yaml

from ..errors import Problem, SpecError

Path_ = tuple[str | int, ...]


BOOL_TAG = "tag:yaml.org,2002:bool"
READ_AS = (
    BOOL_TAG,
    "tag:yaml.org,2002:int",
)  # keys YAML reads as no text (`on:`, `4:`; pydantic names float keys as text)
MAX_DEPTH = 64  # levels of [ ] and { }: a spec has three or four
MAX_VALUES = 100_000  # values in a spec with its aliases expanded: a spec has hundreds; a "billion laughs" 10^9


def compose(
    text: str, file: str, booleans: dict[Path_, str] | None = None
) -> tuple[Any, dict[Path_, int], list[Problem]]:
    """Parse YAML into plain data plus a map from each YAML path to its 1-based line; flag duplicate keys.
    `booleans` (if given) collects the text of each key or value YAML read as a boolean (`yes`, `off`, ...)."""
    root = _compose(text, file)
    lines: dict[Path_, int] = {}
    dupes: list[Problem] = []
    if root is not None:
        try:
            _walk(root, (), file, lines, dupes, booleans)
        except RecursionError:
            raise SpecError([Problem(file, None, "", "not valid YAML for a spec: nested too deeply")]) from None
    return _load(text, file), lines, dupes


def load_bounded(text: str, file: str) -> Any:
    """YAML as plain data, refused as `compose` refuses it (not YAML, nested past MAX_DEPTH, aliases that expand
    past MAX_VALUES values, a tag that would build an object) but with no map of lines: for YAML that wdcli wrote
    and reads back (a run's spec.yaml), which an edit must not make hang a command."""
    _compose(text, file)
    return _load(text, file)


def _walk(
    node: yaml.Node,
    path: Path_,
    file: str,
    lines: dict[Path_, int],
    dupes: list[Problem],
    booleans: dict[Path_, str] | None,
) -> None:
    """Note the line of `node` and of everything under it in `lines`, a key declared twice in `dupes`, and the
    text YAML read as a boolean in `booleans`."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key_node.tag in READ_AS:  # an unquoted `on:` is the key True in the data, `4:` the number 4
                key = yaml.safe_load(key_node.value)
                if booleans is not None:
                    booleans[path + (key, "[key]")] = key_node.value
            if key in seen:
                dupes.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        path_text(path + (key,)),
                        f"declared twice (first at line {seen[key]}); keep one",
                    )
                )
            seen[key] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), file, lines, dupes, booleans)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif node.tag == BOOL_TAG and booleans is not None:
        booleans[path] = node.value
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), file, lines, dupes, booleans)


def _load(text: str, file: str) -> Any:
    """The YAML as plain data; a spec problem for a tag that would build an object (never built)."""
    try:
        return yaml.safe_load(text)
    except yaml.constructor.ConstructorError as e:  # e.g. a !!python/object tag: never built, always refused
        mark = e.problem_mark
        raise SpecError(
            [
                Problem(
                    file,
                    mark.line + 1 if mark else None,
                    "",
                    f"not valid YAML for a spec: {e.problem}; use plain values (no !! tags)",
                )
            ]
        ) from None


def _compose(text: str, file: str) -> yaml.Node | None:
    """The YAML node graph, refused if it is not YAML, nests past MAX_DEPTH brackets (PyYAML takes seconds to
    find out that it cannot) or would expand past MAX_VALUES values."""
    if (depth := flow_depth(text)) > MAX_DEPTH:
        raise SpecError(
            [Problem(file, None, "", f"not valid YAML for a spec: nested too deeply ({depth} levels of [ ] or {{ }})")]
        )
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        size = expanded_size(root) if root is not None else 0
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(e, "problem", None) or str(e)
        raise SpecError([Problem(file, line, "", f"not valid YAML: {what}; fix the syntax")]) from None
    except RecursionError:
        raise SpecError([Problem(file, None, "", "not valid YAML for a spec: nested too deeply")]) from None
    if size > MAX_VALUES:
        raise SpecError(
            [
                Problem(
                    file,
                    None,
                    "",
                    f"not valid YAML for a spec: its aliases (*name) expand to {size:,} values or more, over "
                    f"{MAX_VALUES:,}; write the values out, or use fewer aliases",
                )
            ]
        )
    return root


def flow_depth(text: str) -> int:
    """The deepest nesting of [ ] and { } in YAML text, outside quotes and comments."""
    deepest = depth = 0
    quote = None
    for i, c in enumerate(text):
        if quote:
            quote = None if c == quote and not (quote == '"' and text[i - 1] == "\\") else quote
        elif c in "'\"" and (i == 0 or not text[i - 1].isalnum()):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            quote = "\n"  # a comment, to the end of its line
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def expanded_size(root: yaml.Node) -> int:
    """How many values a YAML document holds once its aliases are expanded (each shared node counted once per
    reference), stopping past MAX_VALUES; linear in the nodes written, whatever the expansion."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = MAX_VALUES + 1  # a node that contains itself: endless
            children = (
                [n for pair in node.value for n in pair]
                if isinstance(node, yaml.MappingNode)
                else node.value
                if isinstance(node, yaml.SequenceNode)
                else []
            )
            total = 1
            for child in children:
                total += size(child)
                if total > MAX_VALUES:
                    break
            sizes[id(node)] = total
        return sizes[id(node)]

    return size(root)


def path_text(path: Path_) -> str:
    """A YAML path as messages write it: ("crosses", 0, "columns") is crosses[0].columns."""
    out, before = "", None
    for seg in path:
        index = isinstance(seg, int) and not isinstance(seg, bool)
        dotted = isinstance(seg, str) and ("." in seg or "[" in seg) and before != "space"  # (tune's keys: paths)
        before, seg = seg, f'"{seg}"' if dotted else seg  # (a name with dots, quoted as --set takes it)
        out += f"[{seg}]" if index else (f".{seg}" if out else str(seg))
    return out


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def read_as_text(value: Any, raw: str | None) -> str:
    """Why a value YAML did not read as text is not text, and the quoting that keeps it text."""
    if isinstance(value, bool):
        if raw is None:
            return (
                f"YAML read an unquoted word as the boolean {str(value).lower()} (yes, no, on, off, true and "
                f'false are booleans); quote it to keep it text, e.g. "{"yes" if value else "no"}"'
            )
        return f'YAML read unquoted {raw} as the boolean {str(value).lower()}; quote it to keep it text: "{raw}"'
    return f'YAML read unquoted {raw or value} as a number; quote it to keep it text: "{raw or value}"'
