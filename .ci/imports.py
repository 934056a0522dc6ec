#!/usr/bin/env python3
"""Checks the arrows between the server's modules against the capability map
in docs/ARCHITECTURE.md (its ```imports block).

Every `crate::<module>` a module of server/src names (in `use` lines, grouped
`use crate::{a, b}` lists and inline paths) is an arrow. A capability may
point at the shared modules and at the capabilities the map lets it call,
never at `AppState` and never into another capability's `store`. A shared
module may point only at shared modules. The wiring (lib.rs, routes.rs, main.rs) may
point anywhere.

  .ci/imports.py              list the arrows between capabilities; fail on
                              one the map does not allow
  .ci/imports.py --self-test  show that forbidden imports are caught
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "server", "src")
NOTE = os.path.join(ROOT, "docs", "ARCHITECTURE.md")
WIRING = {"lib", "main", "routes"}


def read_map():
    text = open(NOTE, encoding="utf-8").read()
    block = re.search(r"```imports\n(.*?)```", text, re.S)
    if not block:
        sys.exit(f"{NOTE}: no ```imports block")
    shared, allowed = set(), {}
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, deps = line.partition(":")
        name, deps = name.strip(), deps.split()
        if name == "shared":
            shared.update(deps)
        else:
            allowed[name] = set(deps)
    return shared, allowed


def sources():
    """(top-level module, path, text) of every .rs file under server/src."""
    for dirpath, _, files in os.walk(SRC):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, SRC)
            top = rel.split(os.sep)[0].removesuffix(".rs")
            yield top, rel, open(path, encoding="utf-8").read()


def strip_comments(text):
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def split_top(group):
    """Top-level items of a `{…}` use list."""
    depth, item, items = 0, "", []
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(item)
            item = ""
        else:
            item += ch
    items.append(item)
    return [i.strip() for i in items if i.strip()]


def arrows(text):
    """(module, second path segment or None) for every `crate::` path."""
    text = strip_comments(text)
    found = []
    for m in re.finditer(r"crate::\{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        for item in split_top(text[m.end():i - 1]):
            parts = [p.strip() for p in item.split("::")]
            found.append((parts[0], parts[1] if len(parts) > 1 else None))
    for m in re.finditer(r"crate::([A-Za-z_][A-Za-z0-9_]*)(?:::([A-Za-z_{][A-Za-z0-9_]*))?", text):
        found.append((m.group(1), m.group(2)))
    return found


def check(files, shared, allowed):
    errors, listed = [], set()
    known = shared | set(allowed) | WIRING
    for top, rel, text in files:
        if top not in known:
            errors.append(f"{rel}: module `{top}` is not in the map of docs/ARCHITECTURE.md")
            continue
        if top in WIRING:
            continue
        for module, inner in arrows(text):
            if module == top:
                continue
            where = f"{rel}: crate::{module}" + (f"::{inner}" if inner else "")
            if module == "AppState":
                errors.append(f"{where}: a {'capability' if top in allowed else 'shared module'} never takes the whole application state")
            elif top in shared:
                if module not in shared:
                    errors.append(f"{where}: shared module `{top}` may only use shared modules")
            elif module in shared:
                continue
            elif module not in allowed:
                errors.append(f"{where}: `{module}` is not a module of the map")
            elif module not in allowed[top]:
                errors.append(f"{where}: `{top}` may not call `{module}` (see docs/ARCHITECTURE.md)")
            elif inner == "store":
                errors.append(f"{where}: `{top}` reaches into the store of `{module}`; call its public functions")
            else:
                listed.add((top, module))
    return errors, listed


def main():
    shared, allowed = read_map()
    files = list(sources())
    if "--self-test" in sys.argv:
        forbidden = [
            ("nodes", "use crate::queue::Queue;", "may not call"),
            ("queue", "use crate::products::store::get;", "reaches into the store"),
            ("products", "use crate::AppState;", "whole application state"),
            ("cluster", "use crate::nodes::Nodes;", "only use shared modules"),
        ]
        for top, line, expected in forbidden:
            target = next(f for f in files if f[0] == top)
            mutated = [(t, r, text + "\n" + line + "\n") if f is target else f
                       for f in files for (t, r, text) in [f]]
            errors, _ = check(mutated, shared, allowed)
            caught = [e for e in errors if expected in e]
            if not caught:
                sys.exit(f"self-test FAILED: `{line}` in {target[1]} was not refused")
            print(f"refused as expected: {caught[0]}")
        print("imports self-test passed")
        return
    errors, listed = check(files, shared, allowed)
    for top, module in sorted(listed):
        print(f"  {top} -> {module}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(f"{len(errors)} import(s) not allowed by docs/ARCHITECTURE.md")
    print(f"imports: {len(listed)} arrows between capabilities, all allowed by docs/ARCHITECTURE.md")


if __name__ == "__main__":
    main()
