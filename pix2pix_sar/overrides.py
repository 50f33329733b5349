"""Strict overrides of a sectioned config: ``{section: {key: value}}`` from YAML files and
``section.key=value`` assignments, each checked against the config's typed fields, so a
typo is an error that lists the valid keys, never a silently ignored key.

A config's sections are its nested dataclasses (:class:`~pix2pix_sar.config.Config`), or,
for a flat dataclass, the groups of fields it names in ``SECTIONS``
(:class:`~pix2pix_sar.config.SegConfig`). Both `fit` and `seg fit` resolve theirs here.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from pix2pix_sar.errors import ConfigError, option


def sections(cfg) -> dict[str, tuple[object, tuple[str, ...]]]:
    """``{section: (the dataclass holding its fields, their names)}``, in order."""
    groups = getattr(cfg, "SECTIONS", None)
    if groups is not None:
        return {name: (cfg, tuple(keys)) for name, keys in groups.items()}
    nested = [(f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg)]
    nested = [(name, value) for name, value in nested if dataclasses.is_dataclass(value)]
    return {name: (section, tuple(f.name for f in dataclasses.fields(section))) for name, section in nested}


def as_sections(cfg) -> dict[str, dict[str, Any]]:
    """``{section: {key: value}}``: what a config file holds."""
    return {name: {k: getattr(holder, k) for k in keys} for name, (holder, keys) in sections(cfg).items()}


def replace_sections(cfg, changes: Mapping[str, Mapping[str, Any]]):
    """`cfg` with ``{section: {key: value}}`` changed."""
    if getattr(cfg, "SECTIONS", None) is not None:
        return dataclasses.replace(cfg, **{k: v for values in changes.values() for k, v in values.items()})
    return dataclasses.replace(
        cfg, **{name: dataclasses.replace(getattr(cfg, name), **values) for name, values in changes.items()}
    )


def valid_keys(cfg) -> list[str]:
    """Every overridable key of `cfg` as ``section.key``."""
    return [f"{name}.{key}" for name, (_, keys) in sections(cfg).items() for key in keys]


@cache
def _field_types(cls: type) -> dict[str, type | tuple[type, ...]]:
    """Each field's type; a union (``int | str``, ``int | None``) as a tuple of types."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: typing.get_args(hints[f.name]) if isinstance(hints[f.name], types.UnionType) else hints[f.name]
        for f in dataclasses.fields(cls)
    }


def coerce(key: str, value: Any, target_type: type | tuple[type, ...]) -> Any:
    """Check (and widen int -> float) a value for a field of `target_type`; a field of
    ``tuple[T, ...]`` takes a list (what YAML reads) or tuple, each item checked as a T."""
    if typing.get_origin(target_type) is tuple:
        item_type = typing.get_args(target_type)[0]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list of {item_type.__name__}, got {value!r} ({type(value).__name__})")
        return tuple(coerce(f"{key}[{i}]", item, item_type) for i, item in enumerate(value))
    allowed = target_type if isinstance(target_type, tuple) else (target_type,)
    if isinstance(value, bool) and str in allowed and bool not in allowed:
        # YAML 1.1 reads an unquoted on/off (yes/no, true/false) as a boolean; a field of
        # words that takes them (training.xla) means the word.
        value = "on" if value else "off"
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if float in allowed and isinstance(value, str):
        # YAML 1.1 reads "1e-3" (no dot) as a string.
        try:
            value = float(value)
        except ValueError:
            pass
    if float in allowed and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    if type(value) not in allowed:
        names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
        raise ConfigError(f"{key} must be {names}, got {value!r} ({type(value).__name__})")
    return value


def apply_sections(cfg, overrides: Mapping[str, Any], source: str):
    """Return `cfg` with nested `overrides` ({section: {key: value}}) applied.

    Unknown sections or keys and wrong types raise :class:`ConfigError` naming
    `source` and listing the valid keys.
    """
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(overrides).__name__}")
    known = sections(cfg)
    changes: dict[str, dict[str, Any]] = {}
    for section, values in overrides.items():
        if section not in known:
            raise ConfigError(f"{source}: unknown section {section!r}; valid keys: {', '.join(valid_keys(cfg))}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of keys")
        holder, keys = known[section]
        for key, value in values.items():
            if key not in keys:
                raise ConfigError(f"{source}: unknown key {section}.{key}; valid keys: {', '.join(valid_keys(cfg))}")
            field_type = _field_types(type(holder))[key]
            changes.setdefault(section, {})[key] = coerce(f"{source}: {section}.{key}", value, field_type)
    return replace_sections(cfg, changes)


def parse_assignment(text: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    """``"section.key=value"`` -> ``{section: {key: value}}`` (value parsed as YAML);
    `keys`: the valid keys, listed when `text` is not an assignment."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(
            f"{option('assignments')} {text!r}: expected section.key=value, e.g. training.epochs=10; "
            f"valid keys: {', '.join(keys)}"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError as exc:
        raise ConfigError(f"{option('assignments')} {text!r}: value is not valid YAML ({exc.problem})") from None
    return {section: {key: value}}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def diff_sections(old, new) -> list[str]:
    """``section.key: old -> new`` for every field that differs."""
    a, b = as_sections(old), as_sections(new)
    return [
        f"{section}.{key}: {value} -> {b[section][key]}"
        for section, values in a.items()
        for key, value in values.items()
        if value != b[section][key]
    ]
