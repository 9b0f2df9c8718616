"""Reading, merging (``extends``) and writing scenario files, with errors that name the line and key."""

from __future__ import annotations

import difflib
import os
import types
import typing
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from geoplan._errors import ScenarioError
from geoplan._io import BoundedSafeLoader, write_text_atomic
from geoplan.layers import ROAD_CLASSES
from geoplan.scenario.models import Scenario


class _UniqueKeyLoader(BoundedSafeLoader):
    """A safe loader that rejects duplicate keys (PyYAML silently keeps the last one) and alias bombs."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...], *, key: bool = False) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its key); the deepest node found otherwise."""
    node = root
    line = None if root is None else root.start_mark.line + 1
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for k_node, v_node in node.value:
                if isinstance(k_node, yaml.ScalarNode) and k_node.value == str(part):
                    last = i == len(loc) - 1
                    line = (k_node if (key or last) else v_node).start_mark.line + 1
                    node = v_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _unwrap(annotation: Any) -> Any:
    """Return the model class inside Optional[...] / list[...] / Annotated[...] (or the type)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Return the pydantic model whose fields live at ``loc`` in a scenario document."""
    model: Any = Scenario
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            origin = typing.get_origin(model)
            if origin is list and isinstance(part, int):
                model = _unwrap(typing.get_args(model)[0])
                continue
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _keypath(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    bounds = {"greater_than": "greater than", "greater_than_equal": "at least", "less_than": "less than",
              "less_than_equal": "at most"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit:g} (got {shown})" if isinstance(limit, (int, float)) \
            else f"must be {bounds[kind]} {limit} (got {shown})"
    if kind == "literal_error":
        return f"{shown} is not allowed; allowed: {str(ctx.get('expected', '')).replace(' or ', ', ')}"
    simple = {"float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
              "int_type": "a whole number", "int_from_float": "a whole number", "bool_parsing": "true or false",
              "bool_type": "true or false", "string_type": "text", "dict_type": "a mapping of keys to values",
              "list_type": "a list", "model_type": "a mapping of keys to values", "model_attributes_type":
              "a mapping of keys to values", "finite_number": "a finite number"}
    if kind in simple:
        return f"must be {simple[kind]} (got {shown})"
    if kind == "missing":
        return "required key is missing"
    msg = str(err.get("msg", kind))
    return msg.removeprefix("Value error, ")


def _scenario_error(exc: ValidationError, source: str, root: yaml.Node | None, n_base: int = 0) -> ScenarioError:
    lines: list[str] = []
    fixes: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if n_base and len(loc) > 1 and loc[0] == "edits" and isinstance(loc[1], int):
            # Edits inherited through ``extends`` come first; number this file's edits as it does.
            loc = ("edits", loc[1] - n_base, *loc[2:])
        if loc and loc[-1] == "[key]":
            # A bad dictionary key (e.g. an unknown road class under ``speeds``).
            loc = loc[:-1]
            where = _node_line(root, loc, key=True)
            allowed = ", ".join(ROAD_CLASSES) if loc and loc[0] == "speeds" else ""
            text = f"{_keypath(loc)}: unknown road class" if allowed else f"{_keypath(loc)}: invalid key"
            close = difflib.get_close_matches(str(loc[-1]), ROAD_CLASSES, n=1) if allowed else []
            text += (f" (did you mean {close[0]}?)" if close else "") + (f"; allowed: {allowed}" if allowed else "")
        elif err["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            allowed_keys = list(model.model_fields) if model else []
            where = _node_line(root, loc, key=True)
            close = difflib.get_close_matches(str(loc[-1]), allowed_keys, n=1)
            text = (f"{_keypath(loc)}: unknown key" + (f" (did you mean {close[0]}?)" if close else "")
                    + (f"; allowed: {', '.join(allowed_keys)}" if allowed_keys else ""))
            fixes.append("unknown key")
        else:
            where = _node_line(root, loc)
            text = f"{_keypath(loc)}: {_describe(dict(err))}"
        lines.append((f"line {where}: " if where else "") + text)
    if len(lines) == 1:
        line = lines[0]
        if line.startswith("line "):
            num, rest = line[5:].split(": ", 1)
            msg = f"{source}:{num}: {rest}"
        else:
            msg = f"{source}: {line}"
    else:
        msg = f"{source}: {len(lines)} problems:\n" + "\n".join(f"  {x}" for x in lines)
    if fixes and len(fixes) == len(lines):
        fix = "rename the key to one of the allowed keys, or delete it"
    else:
        fix = ("correct the value(s) named above; `geoplan scenario show` prints every key with its default, "
               "and the geoplan.scenario documentation gives each range and why")
    return ScenarioError(msg, fix=fix)


def parse_scenario(text: str, *, source: str = "<string>", base_dir: str | os.PathLike[str] | None = None) -> Scenario:
    """Validate a scenario given as YAML text.

    Parameters
    ----------
    text
        The YAML document. Empty text gives the baseline.
    source
        Name used in error messages (normally the file path).
    base_dir
        Folder that relative paths (``extends``, ``layers``, ``edits[].add_roads``) are
        resolved against; defaults to the current folder.

    Raises
    ------
    ScenarioError
        For YAML syntax errors (with line and column), duplicate keys, unknown keys, values
        out of range or of the wrong type, and files (``extends``, ``layers``, ``add_roads``)
        that do not exist.

    """
    return _parse(text, source, Path(base_dir) if base_dir is not None else Path.cwd(), ())


def _yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
        root = yaml.compose(text, Loader=BoundedSafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        if "alias" in problem:  # refused by BoundedSafeLoader: an alias bomb or a recursive alias
            raise ScenarioError(f"{where}: {problem}",
                                fix="write the values out instead of nesting aliases (&name / *name)") from None
        raise ScenarioError(f"{where}: YAML syntax error: {problem}",
                            fix="fix the YAML at that line (indent with spaces, 'key: value', lists with '- ')",
                            ) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: YAML syntax error: {exc}", fix="fix the YAML") from exc
    except RecursionError:
        raise ScenarioError(f"{source}: YAML nested too deeply to read",
                            fix="a scenario needs a few levels of nesting at most") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # PyYAML builds explicitly tagged scalars (!!float '', !!timestamp 2001-13-45) with plain
        # Python conversions, whose failures are not YAMLError.
        raise ScenarioError(f"{source}: a tagged YAML value cannot be read ({type(exc).__name__}: {exc})",
                            fix="remove the explicit tag (!!float, !!int, !!bool, !!timestamp) or give it a valid "
                                "value") from None
    return data, root


def _explicit(scenario: Scenario) -> dict[str, Any]:
    """Return the keys a scenario set itself, relative paths made absolute (for ``extends``)."""
    data = scenario.model_dump(mode="json", exclude_unset=True)
    data.pop("extends", None)
    for key in ("layers", "roads"):
        if data.get(key) is not None:
            data[key] = str(scenario.resolve(data[key]))
    for edit in data.get("edits", []):
        if edit.get("add_roads") is not None:
            edit["add_roads"] = str(scenario.resolve(edit["add_roads"]))
    return data


def _merge(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """``own`` over ``base``: mappings merge key by key, ``edits`` are appended, the rest replaced."""
    out = dict(base)
    for key, value in own.items():
        if key == "edits" and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _unusable(path: Path, *, folder: bool = False) -> str | None:
    """Why ``path`` cannot be used (``None`` when it is an existing file, or folder too if ``folder``)."""
    try:
        ok = path.exists() if folder else path.is_file()
    except OSError as exc:  # e.g. a file name longer than the file system allows
        return f"not a usable path ({exc.strerror or exc})"
    return None if ok else "no such file"


def _bools_for_numbers(data: Any, annotation: Any, loc: tuple[Any, ...] = (), seen: set[int] | None = None,
                       ) -> list[tuple[Any, ...]]:
    """Locations where the YAML has true/false but the model wants a number.

    pydantic's lax mode reads them as 1 and 0, so ``max_minutes: true`` would silently mean one
    minute.
    """
    seen = set() if seen is None else seen
    kind = _unwrap(annotation)
    if isinstance(data, bool):
        return [loc] if kind in (int, float) else []
    if not isinstance(data, (dict, list)) or id(data) in seen:
        return []
    seen.add(id(data))
    out: list[tuple[Any, ...]] = []
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel) and isinstance(data, dict):
        for key, value in data.items():
            field = kind.model_fields.get(str(key))
            if field is not None:
                out += _bools_for_numbers(value, field.annotation, (*loc, key), seen)
    elif origin is dict and isinstance(data, dict) and len(args) == 2:
        for key, value in data.items():
            out += _bools_for_numbers(value, args[1], (*loc, key), seen)
    elif origin is list and isinstance(data, list) and args:
        for i, value in enumerate(data):
            out += _bools_for_numbers(value, args[0], (*loc, i), seen)
    return out


def _parse(text: str, source: str, base_dir: Path, chain: tuple[Path, ...]) -> Scenario:
    data, root = _yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of keys to values, got a {type(data).__name__}",
                            fix="start the file with keys such as 'name:' or 'agglomeration:'")
    bools = _bools_for_numbers(data, Scenario)
    if bools:
        shown = [f"line {_node_line(root, loc)}: {_keypath(loc)}" for loc in bools[:5]]
        where = f"{source}:{_node_line(root, bools[0])}: {_keypath(bools[0])}" if len(bools) == 1 else \
            f"{source}: {', '.join(shown)}"
        raise ScenarioError(f"{where}: must be a number, not true/false",
                            fix="write the number itself (true and false are not 1 and 0 in a scenario)")
    n_base = 0
    ext = data.get("extends")
    if ext is not None:
        line = _node_line(root, ("extends",))
        if not isinstance(ext, str) or not ext.strip() or "\0" in ext:
            raise ScenarioError(f"{source}:{line}: extends: must be the path of another scenario file (got {ext!r})",
                                fix="write e.g. 'extends: baseline.yaml' (relative to this file's folder)")
        parent_path = Path(os.path.expanduser(ext))
        parent_path = (parent_path if parent_path.is_absolute() else base_dir / parent_path).resolve()
        if parent_path in chain:
            raise ScenarioError(f"{source}:{line}: extends: {parent_path} extends itself "
                                f"({' -> '.join(p.name for p in (*chain, parent_path))})",
                                fix="break the cycle of 'extends'")
        if (why := _unusable(parent_path)) is not None:
            raise ScenarioError(f"{source}:{line}: extends: {why}: {parent_path}",
                                fix="give the path relative to this scenario file's folder, or an absolute path")
        parent = _load(parent_path, (*chain, parent_path))
        n_base = len(parent.edits)
        data = _merge(_explicit(parent), data)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _scenario_error(exc, source, root, n_base) from None
    scenario.with_source(source, base_dir)
    missing: list[tuple[tuple[str | int, ...], Path, str]] = []
    layers_at = scenario.layers_path()
    if scenario.layers is not None and isinstance(layers_at, Path) and (why := _unusable(layers_at, folder=True)):
        missing.append((("layers",), layers_at, why))
    if (roads := scenario.roads_path()) is not None and (why := _unusable(roads)) is not None:
        missing.append((("roads",), roads, why))
    for k, edit in enumerate(scenario.edits):
        if edit.add_roads is not None and (why := _unusable(scenario.resolve(edit.add_roads))) is not None:
            missing.append((("edits", k - n_base, "add_roads"), scenario.resolve(edit.add_roads), why))
    if missing:
        loc, path, why = missing[0]
        line = _node_line(root, loc)
        raise ScenarioError(f"{source}:{line}: {_keypath(loc)}: {why}: {path}",
                            fix="give the path relative to the scenario file's folder, or an absolute path")
    return scenario


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file (see :func:`parse_scenario`).

    A file may start from another one with ``extends: other.yaml``: the other file's keys are
    read first, this file's keys override them section by section, and its ``edits`` are
    applied after the other file's.

    Parameters
    ----------
    path
        The scenario YAML file; relative paths in it are resolved against its folder.

    Raises
    ------
    ScenarioError
        When the file cannot be read or is invalid; the message names the file, line and key.

    """
    p = Path(path)
    return _load(p, (p.resolve(),))


def _load(p: Path, chain: tuple[Path, ...]) -> Scenario:
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such scenario file",
                            fix="check the path (the repository's scenarios/ folder holds baseline.yaml and "
                                "center_west.yaml)") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                            fix="save the file as UTF-8") from None
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}",
                            fix="check the path and its permissions") from None
    return _parse(text, str(p), p.parent, chain)


def dump_scenario(scenario: Scenario, *, path: str | os.PathLike[str] | None = None) -> str:
    """Write the scenario as YAML, with every default filled in.

    Parameters
    ----------
    scenario
        The scenario to write.
    path
        Also write the text to this file, atomically. Relative paths are rewritten relative to
        its folder, so the written file still points at the same layers.

    Returns
    -------
    str
        The YAML text.
    """
    data = scenario.model_dump(mode="json", exclude_none=True)
    data.pop("extends", None)  # the dump is complete: it no longer needs its parent
    target_dir = Path(path).resolve().parent if path is not None else None
    if target_dir is not None:
        def rel(p: str) -> str:
            return os.path.relpath(scenario.resolve(p), target_dir)

        for key in ("layers", "roads"):
            if key in data:
                data[key] = rel(data[key])
        for edit in data.get("edits", []):
            if "add_roads" in edit:
                edit["add_roads"] = rel(edit["add_roads"])
    for edit in data.get("edits", []):
        # Empty operations are noise in a file a planner reads.
        for key in ("set_class", "set_speed", "close"):
            if not edit.get(key):
                edit.pop(key, None)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    if path is not None:
        write_text_atomic(path, text)
    return text
