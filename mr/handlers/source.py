"""The handler file format: a Python module whose docstring carries YAML metadata.

    \"\"\"Count the words of one chunk of text.

    **
    handler_type: mapper            # mapper | combiner | reducer
    required_capability: general
    argument_spec:
      - {name: arguments, type: list}
    \"\"\"
    def handle(ctx, arguments): ...

Optional metadata: `input` (a data mapper: the format of the input records it reads, one of
text, jsonl, csv or raw; its argument is then `records` and argument_spec may be left out),
`request_arguments` (for a job's first mapper: the names and types a POST
must carry), `retries` (re-runs before a failure fails the request), `time_limit_s` (an
invocation running the handler longer fails), `expected_s` (for a job's first mapper: how long
a request usually takes, its ETA before anything has finished), `language` (`python`, the
default for .py files, or `subprocess`) and `command` (for subprocess handlers: the
interpreter to run the file with, instead of its `#!` line).

A handler in another language is a script whose metadata sits in its leading comment block,
in the same layout (see mr.handlers.subprocess_processor for the protocol it speaks):

    #!/usr/bin/perl
    # Count the words of one chunk.
    #
    # **
    # handler_type: mapper
    # required_capability: general

Every problem is reported as "<file>:<line>: <what>" so it can be fixed without guessing.
"""
from __future__ import annotations

import ast
import hashlib
import json
import textwrap
from dataclasses import dataclass

import yaml

from mr.data.inputs import FORMATS as INPUT_FORMATS
from mr.data.inputs import MALFORMED
from mr.kv.models import HANDLER_TYPES

REQUIRED_KEYS = {"handler_type", "required_capability", "argument_spec"}
OPTIONAL_KEYS = {"request_arguments", "retries", "time_limit_s", "expected_s", "language",
                 "command", "input", "malformed"}
LANGUAGES = ("python", "subprocess")
ARGUMENT_NAME = {"mapper": "arguments", "combiner": "results", "reducer": "results"}
DATA_ARGUMENT = "records"   # a data mapper's argument: the records of its split
ARGUMENT_TYPES = {None: None, "list": list, "dict": dict}
# what isinstance() must accept of a request argument of each type
REQUEST_ARGUMENT_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str, "int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict,
    "any": object}


class HandlerSourceError(ValueError):
    """A handler file that cannot be used; the message names the file and line."""

    def __init__(self, path: str, line: int | None, message: str):
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line


@dataclass(frozen=True)
class ParsedHandler:
    description: str
    handler_type: str
    required_capability: str
    argument_spec: list
    request_arguments: dict | None
    retries: int
    version: str
    language: str = "python"
    command: list | None = None       # subprocess handlers: argv run before the script's path
    time_limit_s: float | None = None
    input_format: str | None = None   # a data mapper: text, jsonl, csv or raw records
    expected_s: float | None = None   # how long a request it starts usually takes (its ETA)
    malformed: str = "fail"           # a data mapper's malformed input lines: fail or skip


def version_of(source: str) -> str:
    """A handler's version is the hash of its whole text."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def parse(source: str, path: str) -> ParsedHandler:
    """Check a handler file and read its metadata; raise HandlerSourceError on problems.

    A .py file carries its metadata in its docstring; any other file is a script whose
    metadata sits in its leading comment block.
    """
    if not path.endswith(".py"):
        return _parse_script(source, path)
    try:
        module = ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise HandlerSourceError(path, exc.lineno, f"syntax error: {exc.msg}") from None
    doc_node = module.body[0] if module.body else None
    if not (isinstance(doc_node, ast.Expr) and isinstance(doc_node.value, ast.Constant)
            and isinstance(doc_node.value.value, str)):
        raise HandlerSourceError(path, 1, "a handler starts with a docstring holding its "
                                          "description and, after a '**' line, its metadata")
    description, meta, meta_line = _split_docstring(doc_node.value.value, doc_node.lineno, path)
    parsed = _from_metadata(source, description, meta, path, meta_line, "python")
    if parsed.language == "python":
        _check_handle_function(module, parsed.handler_type, parsed.input_format, path)
    return parsed


def _parse_script(source: str, path: str) -> ParsedHandler:
    """A script: its leading '#' comment lines (after any '#!' line) hold the docstring."""
    lines = source.split("\n")
    start = 1 if lines and lines[0].startswith("#!") else 0
    header = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        text = line[1:]
        header.append(text[1:] if text.startswith(" ") else text)
    if not header:
        raise HandlerSourceError(path, start + 1, "a script handler starts with a comment "
                                                  "block holding its description and, after a "
                                                  "'# **' line, its metadata")
    description, meta, meta_line = _split_docstring("\n".join(header), start + 1, path)
    meta.setdefault("argument_spec", [{"name": ARGUMENT_NAME.get(meta.get("handler_type", ""),
                                                                 "arguments"), "type": "list"}])
    parsed = _from_metadata(source, description, meta, path, meta_line, "subprocess")
    if parsed.language != "subprocess":
        raise HandlerSourceError(path, meta_line, "a script handler's language is subprocess "
                                                  "(only .py files run in the worker)")
    return parsed


def _from_metadata(source: str, description: str, meta: dict, path: str, meta_line: int,
                   default_language: str) -> ParsedHandler:
    input_format = _input_format(meta, path, meta_line)
    if input_format:
        meta.setdefault("argument_spec", [{"name": DATA_ARGUMENT, "type": None}])
    _check_keys(meta, path, meta_line)
    handler_type = meta["handler_type"]
    if handler_type not in HANDLER_TYPES:
        raise HandlerSourceError(path, meta_line,
                                 f"handler_type must be one of {', '.join(HANDLER_TYPES)}, "
                                 f"not {handler_type!r}")
    spec = _argument_spec(meta["argument_spec"], handler_type, path, meta_line,
                          DATA_ARGUMENT if input_format else None)
    capability = meta["required_capability"]
    capability = "general" if capability in (None, "none") else str(capability).lower()
    retries = meta.get("retries", 0)
    if not isinstance(retries, int) or retries < 0:
        raise HandlerSourceError(path, meta_line, "retries must be a whole number >= 0")
    language = meta.get("language", default_language)
    if language not in LANGUAGES:
        raise HandlerSourceError(path, meta_line, f"language must be one of "
                                                  f"{', '.join(LANGUAGES)}, not {language!r}")
    return ParsedHandler(
        description=description, handler_type=handler_type, required_capability=capability,
        argument_spec=spec,
        request_arguments=_request_arguments(meta.get("request_arguments"), path, meta_line),
        retries=retries, version=version_of(source), language=language,
        command=_command(meta.get("command"), language, path, meta_line),
        time_limit_s=_seconds(meta, "time_limit_s", path, meta_line),
        expected_s=_seconds(meta, "expected_s", path, meta_line),
        input_format=input_format, malformed=_malformed(meta, input_format, path, meta_line))


def _malformed(meta: dict, input_format: str | None, path: str, line: int) -> str:
    value = meta.get("malformed", "fail")
    if "malformed" in meta and input_format in (None, "raw"):
        raise HandlerSourceError(path, line, "malformed is for data mappers reading text, "
                                             "jsonl or csv: it says what a line that is not "
                                             "UTF-8 (or not JSON, or not a CSV row) does")
    if value not in MALFORMED:
        raise HandlerSourceError(path, line, f"malformed must be one of {', '.join(MALFORMED)}"
                                             f", not {value!r}")
    return value


def _input_format(meta: dict, path: str, line: int) -> str | None:
    value = meta.get("input")
    if value is None:
        return None
    if meta.get("handler_type") != "mapper":
        raise HandlerSourceError(path, line, "input is for mappers: it names the format of the "
                                             "input records a data step's mapper reads")
    if value not in INPUT_FORMATS:
        raise HandlerSourceError(path, line, f"input must be one of {', '.join(INPUT_FORMATS)}"
                                             f", not {value!r}")
    if meta.get("language", "python") != "python":
        raise HandlerSourceError(path, line, "a data mapper (input) is a Python handler")
    return value


def _command(value, language: str, path: str, line: int) -> list | None:
    if value is None:
        return None
    if language != "subprocess":
        raise HandlerSourceError(path, line, "command is for language: subprocess handlers")
    if (not isinstance(value, list) or not value
            or not all(isinstance(part, str) and part for part in value)):
        raise HandlerSourceError(path, line, "command is a list of words, e.g. [perl, -w]")
    return value


def _seconds(meta: dict, key: str, path: str, line: int) -> float | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise HandlerSourceError(path, line, f"{key} must be a number of seconds > 0, "
                                             f"not {value!r}")
    return float(value)


def _split_docstring(doc: str, first_line: int, path: str) -> tuple[str, dict, int]:
    lines = doc.split("\n")
    for index, line in enumerate(lines):
        if line.strip().startswith("**"):
            fmt = line.strip()[2:].strip() or "yaml"
            meta_line = first_line + index + 1
            text = "\n".join(lines[index + 1:])
            break
    else:
        raise HandlerSourceError(path, first_line, "docstring has no '**' line followed by "
                                                   "metadata")
    description = "\n".join(lines[:index]).strip()
    try:
        if fmt == "yaml":
            meta = yaml.safe_load(textwrap.dedent(text))
        elif fmt == "json":
            meta = json.loads(text)
        else:
            raise HandlerSourceError(path, meta_line - 1, f"unknown metadata format {fmt!r} "
                                                          f"(use yaml or json)")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        error_line = meta_line + mark.line if mark else meta_line
        raise HandlerSourceError(path, error_line, f"metadata is not valid YAML: "
                                             f"{getattr(exc, 'problem', exc)}") from None
    except json.JSONDecodeError as exc:
        raise HandlerSourceError(path, meta_line + exc.lineno - 1,
                                 f"metadata is not valid JSON: {exc.msg}") from None
    if not isinstance(meta, dict):
        raise HandlerSourceError(path, meta_line, "metadata must be a mapping")
    return description, meta, meta_line


def _check_keys(meta: dict, path: str, line: int) -> None:
    missing = REQUIRED_KEYS - meta.keys()
    unknown = meta.keys() - REQUIRED_KEYS - OPTIONAL_KEYS
    if missing:
        raise HandlerSourceError(path, line, f"metadata lacks {', '.join(sorted(missing))}")
    if unknown:
        raise HandlerSourceError(path, line, f"unknown metadata key(s) "
                                             f"{', '.join(sorted(map(str, unknown)))}")


def _argument_spec(spec, handler_type: str, path: str, line: int,
                   name: str | None = None) -> list:
    expected = name or ARGUMENT_NAME[handler_type]
    if (not isinstance(spec, list) or len(spec) != 1 or not isinstance(spec[0], dict)
            or spec[0].get("name") != expected):
        raise HandlerSourceError(path, line, f"argument_spec of a {handler_type} is "
                                             f"[{{name: {expected}, type: list}}]")
    type_name = spec[0].get("type")
    if type_name not in ARGUMENT_TYPES:
        raise HandlerSourceError(path, line, f"argument type must be list, dict or null, "
                                             f"not {type_name!r}")
    return [{"name": expected, "type": type_name}]


def _request_arguments(value, path: str, line: int) -> dict | None:
    """Normalise to {name: {"type": t, "required": bool}}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HandlerSourceError(path, line, "request_arguments must map names to types")
    normal = {}
    for name, spec in value.items():
        spec = {"type": spec} if isinstance(spec, str) else dict(spec or {})
        if spec.get("type", "any") not in REQUEST_ARGUMENT_TYPES:
            raise HandlerSourceError(path, line, f"request argument {name!r}: type must be one "
                                                 f"of {', '.join(REQUEST_ARGUMENT_TYPES)}")
        normal[str(name)] = {"type": spec.get("type", "any"),
                             "required": bool(spec.get("required", True))}
    return normal


def _check_handle_function(module: ast.Module, handler_type: str, input_format: str | None,
                           path: str) -> None:
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "handle":
            params = [a.arg for a in node.args.args]
            if len(params) != 2:
                argument = DATA_ARGUMENT if input_format else ARGUMENT_NAME[handler_type]
                raise HandlerSourceError(path, node.lineno, f"handle() takes (ctx, {argument})")
            # A data mapper may return its pairs (a mapping: the bulk path).
            if handler_type == "mapper" and not input_format and not _is_generator(node):
                raise HandlerSourceError(path, node.lineno, "a mapper's handle() must be a "
                                                            "generator (use yield)")
            return
    raise HandlerSourceError(path, None, "no top-level function handle(ctx, ...) found")


def _is_generator(func: ast.FunctionDef) -> bool:
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in ast.walk(func))
