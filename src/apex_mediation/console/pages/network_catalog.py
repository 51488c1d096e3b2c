"""The networks a placement line may name, with the params each adapter declares: what the
placement form offers (bidding lines take only the networks that bid server-side)."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import msgspec

from apex_mediation.auction.adapters.registry import ADAPTERS

Kind = Literal["bid", "wf"]  # a bidding line or a waterfall line


@dataclass(frozen=True)
class ParamField:
    name: str
    required: bool
    default: str
    kind: str  # "str", "int", "float" or "bool": how the typed text is converted


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    display_name: str
    server_side: bool
    params: tuple[ParamField, ...]


def _kind(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else str
    names: dict[Any, str] = {bool: "bool", int: "int", float: "float"}
    return names.get(annotation, "str")


@cache
def catalog() -> dict[str, NetworkInfo]:
    """Every network with the params its adapter declares, by display name."""
    found: dict[str, NetworkInfo] = {}
    for adapter in sorted(ADAPTERS.values(), key=lambda a: a.display_name.lower()):
        params = tuple(
            ParamField(
                name=f.name,
                required=f.required,
                default="" if f.required or f.default is None else str(f.default),
                kind=_kind(f.type),
            )
            for f in msgspec.structs.fields(adapter.params_type)
        )
        found[adapter.name] = NetworkInfo(
            adapter.name, adapter.display_name, adapter.mode == "s2s", params
        )
    return found


def networks_for(kind: Kind) -> list[NetworkInfo]:
    """Bidding lines take only networks that bid server-side; the waterfall takes any."""
    return [n for n in catalog().values() if kind == "wf" or n.server_side]
