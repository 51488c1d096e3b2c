"""The placement edit form: what the publisher typed, kept as text so that a refused form comes
back exactly as typed, and its conversion into a `PlacementReplace`.

Money is typed in dollars and stored in integer micros: the conversion goes through `Decimal`,
never a float, so "1.10" is exactly 1_100_000. Waterfall priorities are the order on screen
(static/console.js renumbers the hidden `data-priority` fields when a line moves).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from apex_mediation.accounts.errors import DomainError, InvalidInput
from apex_mediation.api.errors import field_path
from apex_mediation.console.inputs import form_text
from apex_mediation.console.pages.network_catalog import Kind, ParamField, catalog
from apex_mediation.db.models import PlacementLine
from apex_mediation.inventory.placements import PlacementView
from apex_mediation.inventory.specs import PlacementReplace

MICROS = Decimal(1_000_000)
MAX_USD = Decimal(1_000_000)  # the specs' limit: up to $1M CPM
BLANK_LINES = {"bid": 1, "wf": 2}
BLANK_COUNTRIES = 3
KEY = re.compile(r"^[a-z0-9]{1,8}$")
_LINE_FIELD = re.compile(r"^(bid|wf)-([a-z0-9]{1,8})-network$")
_COUNTRY_FIELD = re.compile(r"^cf-(\d{1,3})-country$")
_LINE_PATH = re.compile(r"^config\.(bidding|waterfall)\[(\d+)\]\.?(.*)$")
_LABELS = {
    "name": "name",
    "format": "format",
    "enabled": "enabled",
    "config.floor_cpm_micros": "floor CPM (USD)",
    "config.country_floors": "country floors",
    "config.timeout_ms": "timeout (ms)",
    "config.auction_type": "auction type",
    "config.refresh_interval_s": "refresh interval (s)",
    "config.fcap_per_hour": "impressions per hour",
    "config.fcap_per_day": "impressions per day",
    "config.min_interval_s": "minimum interval (s)",
    "config.bidding": "bidding lines",
    "config.waterfall": "waterfall lines",
}
_LINE_LABELS = {
    "ecpm_micros": "eCPM (USD)",
    "ecpmMicros": "eCPM (USD)",
    "network_account_id": "network account",
    "networkAccountId": "network account",
}


# -- money -----------------------------------------------------------------------------------


def usd_to_micros(text: str, label: str) -> int | None:
    """Dollars as typed to integer micros, exactly: '1.10' -> 1_100_000; '' -> None."""
    value = text.strip().removeprefix("$").strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        message = f"{value!r} is not an amount in dollars like 1.25"
        raise InvalidInput(message, field=label) from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput("must be an amount in dollars, 0 or more", field=label)
    if amount > MAX_USD:
        raise InvalidInput("must be at most $1,000,000", field=label)
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise InvalidInput("at most 6 decimal places", field=label)
    return int(micros)


def micros_to_usd(micros: int | None) -> str:
    """Integer micros as an editable dollar amount, every significant digit kept: 1_100_000 ->
    '1.10', 1_234_567 -> '1.234567'."""
    if micros is None:
        return ""
    whole, _, fraction = format((Decimal(micros) / MICROS).normalize(), "f").partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


# -- the form's state ------------------------------------------------------------------------


@dataclass
class LineRow:
    kind: Kind
    key: str
    network: str = ""
    account: str = ""
    ecpm: str = ""
    params: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    position: int = 0

    @property
    def prefix(self) -> str:
        return f"{self.kind}-{self.key}"

    @property
    def label(self) -> str:
        return f"{'bidding' if self.kind == 'bid' else 'waterfall'} line ({self.network})"


@dataclass
class CountryRow:
    country: str = ""
    usd: str = ""


@dataclass
class PlacementForm:
    name: str
    format: str
    enabled: bool
    floor: str = ""
    countries: list[CountryRow] = field(default_factory=list)
    timeout_ms: str = "800"
    auction_type: str = "first_price"
    refresh_interval_s: str = ""
    fcap_per_hour: str = ""
    fcap_per_day: str = ""
    min_interval_s: str = ""
    bidding: list[LineRow] = field(default_factory=list)
    waterfall: list[LineRow] = field(default_factory=list)

    def with_blanks(self) -> PlacementForm:
        """Empty rows dropped, then a few blank ones added to fill in."""
        self.countries = [c for c in self.countries if c.country or c.usd.strip()]
        self.countries += [CountryRow() for _ in range(BLANK_COUNTRIES)]
        for kind in ("bid", "wf"):
            rows = [r for r in self.lines(kind) if r.network]
            used = {r.key for r in rows}
            fresh = (f"n{i}" for i in range(1000) if f"n{i}" not in used)
            rows += [LineRow(kind, next(fresh)) for _ in range(BLANK_LINES[kind])]
            for position, row in enumerate(rows):
                row.position = position
            if kind == "bid":
                self.bidding = rows
            else:
                self.waterfall = rows
        return self

    def lines(self, kind: Kind) -> list[LineRow]:
        return self.bidding if kind == "bid" else self.waterfall


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _row(kind: Kind, key: str, line: PlacementLine) -> LineRow:
    return LineRow(
        kind=kind,
        key=key,
        network=line.network,
        account=str(line.network_account_id or ""),
        ecpm=micros_to_usd(line.ecpm_micros) if kind == "wf" else "",
        params={name: _param_text(value) for name, value in line.params.items()},
        enabled=line.enabled,
    )


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)


def form_from_view(view: PlacementView) -> PlacementForm:
    p = view.placement
    waterfall = sorted(view.waterfall, key=lambda line: line.priority)
    return PlacementForm(
        name=p.name,
        format=p.format,
        enabled=p.enabled,
        floor=micros_to_usd(p.floor_cpm_micros),
        countries=[CountryRow(c, micros_to_usd(m)) for c, m in sorted(p.country_floors.items())],
        timeout_ms=str(p.timeout_ms),
        auction_type=p.auction_type,
        refresh_interval_s=_optional(p.refresh_interval_s),
        fcap_per_hour=_optional(p.fcap_per_hour),
        fcap_per_day=_optional(p.fcap_per_day),
        min_interval_s=_optional(p.min_interval_s),
        bidding=[_row("bid", str(i), line) for i, line in enumerate(view.bidding)],
        waterfall=[_row("wf", str(i), line) for i, line in enumerate(waterfall)],
    ).with_blanks()


def _position(text: str, fallback: int) -> int:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else fallback


def form_from_post(data: FormData) -> PlacementForm:
    """The form as posted, every value kept as typed (removed lines dropped)."""
    rows: dict[Kind, list[LineRow]] = {"bid": [], "wf": []}
    for index, name in enumerate(data.keys()):
        found = _LINE_FIELD.match(name)
        if not found:
            continue
        kind: Kind = "bid" if found.group(1) == "bid" else "wf"
        prefix = f"{kind}-{found.group(2)}"
        if f"{prefix}-remove" in data:
            continue
        params_at = f"{prefix}-p-"
        rows[kind].append(
            LineRow(
                kind=kind,
                key=found.group(2),
                network=form_text(data, name).strip(),
                account=form_text(data, f"{prefix}-account").strip(),
                ecpm=form_text(data, f"{prefix}-ecpm"),
                params={
                    key.removeprefix(params_at): form_text(data, key)
                    for key in data
                    if key.startswith(params_at)
                },
                enabled=f"{prefix}-enabled" in data,
                position=_position(form_text(data, f"{prefix}-priority"), 100_000 + index),
            )
        )
    countries = [
        CountryRow(
            form_text(data, name).strip().upper(), form_text(data, f"cf-{found.group(1)}-usd")
        )
        for name in data
        if (found := _COUNTRY_FIELD.match(name))
    ]
    return PlacementForm(
        name=form_text(data, "name"),
        format=form_text(data, "format"),
        enabled="enabled" in data,
        floor=form_text(data, "floor_usd"),
        countries=countries,
        timeout_ms=form_text(data, "timeout_ms"),
        auction_type=form_text(data, "auction_type"),
        refresh_interval_s=form_text(data, "refresh_interval_s"),
        fcap_per_hour=form_text(data, "fcap_per_hour"),
        fcap_per_day=form_text(data, "fcap_per_day"),
        min_interval_s=form_text(data, "min_interval_s"),
        bidding=rows["bid"],
        # Stable: lines with the same position keep their order on the page.
        waterfall=sorted(rows["wf"], key=lambda row: row.position),
    )


# -- the form to the domain's spec -----------------------------------------------------------


def _whole(text: str, label: str, *, required: bool = False) -> int | None:
    value = text.strip()
    if not value:
        if required:
            raise InvalidInput("is required", field=label)
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise InvalidInput(f"{value!r} is not a whole number", field=label)
    return int(value)


def _param(row: LineRow, spec: ParamField) -> object:
    text = row.params.get(spec.name, "").strip()
    if spec.kind == "int" and re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    if spec.kind == "float":
        try:
            return float(Decimal(text))
        except InvalidOperation:
            return text
    if spec.kind == "bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _line(row: LineRow) -> dict[str, Any]:
    info = catalog().get(row.network)
    params = {
        spec.name: _param(row, spec)
        for spec in (info.params if info else ())
        if row.params.get(spec.name, "").strip()
    }
    account: uuid.UUID | None = None
    if row.account:
        try:
            account = uuid.UUID(row.account)
        except ValueError:
            raise InvalidInput("unknown network account", field=row.label) from None
    line: dict[str, Any] = {
        "network": row.network,
        "params": params,
        "network_account_id": account,
        "enabled": row.enabled,
    }
    if row.kind == "wf":
        line["ecpm_micros"] = usd_to_micros(row.ecpm, f"{row.label} eCPM (USD)")
    return line


def _country_floors(rows: Iterable[CountryRow]) -> dict[str, int]:
    floors: dict[str, int] = {}
    for row in rows:
        if not row.country and not row.usd.strip():
            continue
        if not row.country:
            raise InvalidInput("a floor needs its country code, like US", field="country floors")
        label = f"country floor {row.country}"
        micros = usd_to_micros(row.usd, label)
        if micros is None:
            raise InvalidInput("needs an amount in dollars", field=label)
        if row.country in floors:
            raise InvalidInput("is listed twice", field=label)
        floors[row.country] = micros
    return floors


def to_replace(form: PlacementForm) -> PlacementReplace:
    """The spec to save; InvalidInput or ValidationError name the field at fault."""
    waterfall = [_line(row) for row in form.waterfall if row.network]
    for priority, line in enumerate(waterfall):
        line["priority"] = priority
    config = {
        "floor_cpm_micros": usd_to_micros(form.floor, "floor CPM (USD)") or 0,
        "country_floors": _country_floors(form.countries),
        "timeout_ms": _whole(form.timeout_ms, "timeout (ms)", required=True),
        "auction_type": form.auction_type,
        "refresh_interval_s": _whole(form.refresh_interval_s, "refresh interval (s)"),
        "fcap_per_hour": _whole(form.fcap_per_hour, "impressions per hour"),
        "fcap_per_day": _whole(form.fcap_per_day, "impressions per day"),
        "min_interval_s": _whole(form.min_interval_s, "minimum interval (s)"),
        "bidding": [_line(row) for row in form.bidding if row.network],
        "waterfall": waterfall,
    }
    return PlacementReplace.model_validate(
        {"name": form.name, "format": form.format, "enabled": form.enabled, "config": config}
    )


def describe(exc: DomainError | ValidationError, form: PlacementForm) -> str:
    """One line naming the field the way the form labels it."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if not errors:
            return "invalid input"
        path, message = field_path(tuple(errors[0]["loc"])), errors[0]["msg"]
    else:
        path, message = exc.field or "", exc.message
    message = message.removeprefix("Value error, ")
    return f"{_label(path, form)}: {message}" if path else message


def _label(path: str, form: PlacementForm) -> str:
    found = _LINE_PATH.match(path)
    if found is None:
        return _LABELS.get(path, path)
    kind: Kind = "bid" if found.group(1) == "bidding" else "wf"
    rows = [row for row in form.lines(kind) if row.network]
    index = int(found.group(2))
    network = f" ({rows[index].network})" if index < len(rows) else ""
    rest = _LINE_LABELS.get(found.group(3), found.group(3))
    return f"{found.group(1)} line {index + 1}{network}" + (f" {rest}" if rest else "")
