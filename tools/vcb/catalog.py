"""An export's `catalog` file: read it, show it, write an edited copy for a restore-a-copy.

The catalog is `key= value` lines [V]; vcbRestore reads it to know where the VM goes:
`host=`, `resourcepool= "/ha-folder-root/ha-datacenter/host/<esx>/Resources"` and
`config.vmx= "[datastore] folder/vm.vmx"` [V]. To restore a copy beside the original, back
the catalog up, edit the copy (name, datastore, host, resource pool) and run
`vcbRestore -s DIR -a EDITED` [V]. Edits are refused when they would leave it invalid.
Lines opskb does not know are kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .model import CATALOG_KEYS, Confidence, VcbError

LINE = re.compile(r"^(?P<key>[A-Za-z0-9_.:\[\]-]+)=(?P<sep>[ \t]*)(?P<value>.*?)[ \t]*$")
DATASTORE_PATH = re.compile(r"^\[(?P<datastore>[^\]]+)\] (?P<path>\S.*)$")
HOST_IN_POOL = re.compile(r"/host/(?P<host>[^/]+)/")
# The keys a restore-a-copy needs are the documented ones; the name key is unverified.
REQUIRED = tuple(key for key, (_, sure) in CATALOG_KEYS.items() if sure is Confidence.DOCUMENTED)
NAME_KEY = "display_name"
BAD_NAME = re.compile(r'["/\\\[\]\x00-\x1f]')


@dataclass(frozen=True, slots=True)
class Entry:
    key: str | None  # None: a blank or unparsed line kept verbatim
    value: str  # without surrounding double quotes
    quoted: bool
    raw: str  # the line as read (what is written back when unchanged)
    sep: str = " "


@dataclass(frozen=True, slots=True)
class Catalog:
    entries: tuple[Entry, ...]

    def get(self, key: str) -> str | None:
        return next((entry.value for entry in self.entries if entry.key == key), None)

    def as_dict(self) -> dict[str, str]:
        return {entry.key: entry.value for entry in self.entries if entry.key}


def read_catalog(text: str) -> Catalog:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            entries.append(Entry(None, "", False, line))
            continue
        match = LINE.match(line)
        if match is None:
            raise VcbError(
                f"line {number}: not a `key= value` catalog line: {line.strip()!r}", number
            )
        value = match["value"]
        quoted = len(value) >= 2 and value[0] == value[-1] == '"'
        entries.append(
            Entry(match["key"], value[1:-1] if quoted else value, quoted, line, match["sep"])
        )
    if not any(entry.key for entry in entries):
        raise VcbError("the catalog has no `key= value` line")
    return Catalog(tuple(entries))


def write_catalog(catalog: Catalog) -> str:
    lines = []
    for entry in catalog.entries:
        lines.append(entry.raw)
    return "\n".join(lines) + "\n"


def _set(catalog: Catalog, key: str, value: str) -> Catalog:
    entries = []
    for entry in catalog.entries:
        if entry.key == key:
            text = f'"{value}"' if entry.quoted else value
            entry = replace(entry, value=value, raw=f"{key}={entry.sep}{text}")
        entries.append(entry)
    return Catalog(tuple(entries))


def problems_of(catalog: Catalog) -> list[str]:
    """What makes a catalog unusable for vcbRestore -a (empty when it is fine)."""
    problems = [f"no {key}= line" for key in REQUIRED if catalog.get(key) is None]
    vmx = catalog.get("config.vmx")
    if vmx is not None and not (DATASTORE_PATH.match(vmx) and vmx.endswith(".vmx")):
        problems.append(f'config.vmx= "{vmx}" is not "[datastore] folder/name.vmx"')
    host = catalog.get("host")
    if host is not None and (not host or re.search(r"\s", host)):
        problems.append(f"host= {host!r} is empty or has spaces")
    pool = catalog.get("resourcepool")
    if pool is not None:
        if not pool.startswith("/") or "/Resources" not in pool:
            problems.append(
                f'resourcepool= "{pool}" is not a path such as '
                '"/ha-folder-root/ha-datacenter/host/ESX/Resources"'
            )
        named = HOST_IN_POOL.search(pool)
        if named and host and named["host"] != host:
            problems.append(f"resourcepool= is on host {named['host']} but host= is {host}")
    name = catalog.get(NAME_KEY)
    if name is not None and (not name.strip() or BAD_NAME.search(name)):
        problems.append(f'{NAME_KEY}= {name!r} is empty or has " / \\ [ ]')
    return problems


def _paths(catalog: Catalog):
    """Every `[datastore] path` value: config.vmx and the disks."""
    for entry in catalog.entries:
        if entry.key and DATASTORE_PATH.match(entry.value):
            yield entry.key, DATASTORE_PATH.match(entry.value)


def edit_catalog(
    catalog: Catalog,
    name: str | None = None,
    datastore: str | None = None,
    host: str | None = None,
    resourcepool: str | None = None,
) -> tuple[Catalog, tuple[str, ...]]:
    """The edited catalog and what changed, or VcbError when the result would be invalid."""
    if problems := problems_of(catalog):
        raise VcbError("the catalog is not valid to start with: " + "; ".join(problems))
    changes: list[str] = []
    edited = catalog
    if name is not None:
        if not name.strip() or BAD_NAME.search(name):
            raise VcbError(f'name {name!r}: empty or has " / \\ [ ] (it becomes a folder)')
        vmx_folder = DATASTORE_PATH.match(catalog.get("config.vmx") or "")["path"].split("/")[0]
        for key, match in _paths(catalog):
            folder, slash, rest = match["path"].partition("/")
            if slash and folder == vmx_folder:
                edited = _set(edited, key, f"[{match['datastore']}] {name}/{rest}")
                changes.append(f"{key}: folder {folder} -> {name}")
        if edited.get(NAME_KEY) is not None:
            edited = _set(edited, NAME_KEY, name)
            changes.append(f"{NAME_KEY}: {catalog.get(NAME_KEY)} -> {name}")
    if datastore is not None:
        if not datastore.strip() or re.search(r'[\[\]"/]', datastore):
            raise VcbError(f'datastore {datastore!r}: empty or has [ ] " /')
        for key, match in _paths(edited):
            edited = _set(edited, key, f"[{datastore}] {match['path']}")
            changes.append(f"{key}: datastore {match['datastore']} -> {datastore}")
    if host is not None:
        old = edited.get("host")
        edited = _set(edited, "host", host)
        changes.append(f"host: {old} -> {host}")
        pool = edited.get("resourcepool") or ""
        named = HOST_IN_POOL.search(pool)
        if resourcepool is None and named and named["host"] == old:
            moved = pool[: named.start("host")] + host + pool[named.end("host") :]
            edited = _set(edited, "resourcepool", moved)
            changes.append(f"resourcepool: follows the host to {moved}")
    if resourcepool is not None:
        edited = _set(edited, "resourcepool", resourcepool)
        changes.append(f"resourcepool: -> {resourcepool}")
    if not changes:
        raise VcbError("no edit given (--name, --datastore, --host or --resourcepool)")
    if problems := problems_of(edited):
        raise VcbError("the edit would leave the catalog invalid: " + "; ".join(problems))
    if name is None and datastore is None and edited.get("config.vmx") == catalog.get("config.vmx"):
        changes.append("warning: config.vmx is unchanged, so the restore overwrites the original")
    return edited, tuple(changes)
