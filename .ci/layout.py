#!/usr/bin/env python3
"""Checks that the modules of src/ point one way: no import cycle between files or folders.

    python3 .ci/layout.py            # the check (exit 1 and the cycles when there are any)
    python3 .ci/layout.py --graph    # every file's imports, for reading
    python3 .ci/layout.py --why      # also the imports that close each folder cycle

Every path a file names (`use crate::a::b::C`, `super::x`, `self::y`, `crate::a::f()` in code)
is resolved to the file that defines its module (the longest prefix that is a module file);
inside an inline module (`mod x { ... }`), relative paths start from that module.
Test code (`#[cfg(test)]` modules, inline or in files of their own) is left out: tests may
reach anything. Then, for the files and for the folders at every level (a folder stands for
everything below it, compared with its siblings), the graph must have no cycle. A module's
own `mod.rs` counts as a file among its children, so a child importing from its parent's
`mod.rs` while that `mod.rs` imports the child is a cycle too.

Also checked (the rules of the layout): the planner and the plan model import nothing of the
backends (`src/backend/`), the shared vocabulary (`src/model/`) nothing but itself, `src/`
holds only the few loose files listed below, and the README's layout section names every
folder and loose file of `src/` (and nothing that is not there).
"""

import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
SRC = os.path.normpath(SRC)

# Loose files allowed directly in src/.
LOOSE = {"main.rs", "lib.rs", "cli.rs", "settings.rs", "fuzzing.rs"}
# Folders that must not depend on the backends, directly or through others.
PURE = ["planner", "plan", "model"]
BACKENDS = "backend"
# The vocabulary every layer shares: it imports nothing else of the crate.
VOCABULARY = "model"


def strip_comments_and_strings(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            out.append('""')
            i = n if end < 0 else end + 1 + len(hashes)
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            i += len(re.match(r"'(\\.[^']*|[^\\'])'", text[i:]).group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_modules(text):
    """Removes `#[cfg(test)] mod x { ... }` blocks and `#[cfg(test)] mod x;` lines."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*([;{])", text)
        if not m:
            return text
        if m.group(3) == ";":
            text = text[:m.start()] + text[m.end():]
            continue
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[:m.start()] + text[i:]


def module_files():
    """Maps module paths (tuples) to files, following `mod` declarations from lib.rs."""
    mods = {}

    def visit(path, modpath, is_dir_owner):
        mods[modpath] = path
        text = drop_test_modules(strip_comments_and_strings(open(path, encoding="utf-8").read()))
        base = os.path.dirname(path) if is_dir_owner else os.path.splitext(path)[0]
        for m in re.finditer(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text, re.M):
            name = m.group(1)
            file = os.path.join(base, name + ".rs")
            folder = os.path.join(base, name, "mod.rs")
            if os.path.exists(folder):
                visit(folder, modpath + (name,), True)
            elif os.path.exists(file):
                visit(file, modpath + (name,), False)
        # Inline modules (not tests) are part of their file.
    visit(os.path.join(SRC, "lib.rs"), (), True)
    return mods


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [re.sub(r"::self$", "", tree)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p:
            out.extend(expand_use_tree(prefix + p))
    return out


def referenced_paths(text):
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths.extend(expand_use_tree(m.group(1)))
    # Paths in code (outside `use`): crate::a::b, super::x, self::y
    code = re.sub(r"\buse\s+[^;]+;", "", text)
    paths.extend(m.group(0) for m in re.finditer(r"(?<![\w:])(?:\w+)(?:::\w+)+", code))
    return paths


def resolve(path, here, mods):
    """The module (tuple) a path names, seen from module `here` (a file's module path)."""
    parts = [p for p in path.split("::") if p]
    if not parts:
        return None
    if parts[0] == "crate":
        at, rest = (), parts[1:]
    elif parts[0] in ("super", "self"):
        at = here
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                at = at[:-1]
            parts = parts[1:]
        rest = parts
    elif here + (parts[0],) in mods:
        at, rest = here + (parts[0],), parts[1:]  # a child module, named without `self::`
    else:
        return None  # another crate, or a name in scope
    best = at
    for p in rest:
        if best + (p,) in mods:
            best = best + (p,)
        else:
            break
    return best


def segments(text, modpath):
    """A file's text split by inline modules (`mod x { ... }`): each piece with the module its
    relative paths (`super::`, `self::`) are seen from."""
    out, rest = [], text
    while True:
        m = re.search(r"\b(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{", rest)
        if not m:
            out.append((rest, modpath))
            return out
        depth, i = 1, m.end()
        while i < len(rest) and depth:
            depth += {"{": 1, "}": -1}.get(rest[i], 0)
            i += 1
        out.append((rest[:m.start()], modpath))
        out.extend(segments(rest[m.end():i - 1], modpath + (m.group(1),)))
        rest = rest[i:]


def graph():
    mods = module_files()
    edges = {}
    for modpath, file in mods.items():
        text = drop_test_modules(strip_comments_and_strings(open(file, encoding="utf-8").read()))
        deps = set()
        for piece, seen_from in segments(text, modpath):
            for p in referenced_paths(piece):
                target = resolve(p, seen_from, mods)
                if target is not None and target != modpath and target in mods:
                    deps.add(target)
        edges[modpath] = deps
    return mods, edges


def cycles(nodes, edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            strong(v)
    return out


def rel(mods, m):
    return os.path.relpath(mods[m], SRC)


def main():
    mods, edges = graph()
    if "--graph" in sys.argv:
        for m in sorted(mods):
            print(rel(mods, m), "->", ", ".join(sorted(rel(mods, d) for d in edges[m])))
        return 0
    problems = []
    # Files.
    for comp in cycles(list(mods), edges):
        problems.append("files import each other: " + " <-> ".join(rel(mods, m) for m in comp))
    # Folders, at every level: among the children of one folder, each child folder stands for
    # everything below it.
    folders = {m[:-1] for m in mods if mods[m].endswith("mod.rs") and m} | {()}
    for parent in sorted(folders):
        children = {}
        for m in mods:
            if len(m) > len(parent) and m[:len(parent)] == parent:
                child = m[:len(parent) + 1]
                children.setdefault(child, set()).add(m)
        owner = {m: c for c, ms in children.items() for m in ms}
        collapsed = {c: set() for c in children}
        for c, ms in children.items():
            for m in ms:
                for d in edges[m]:
                    if d in owner and owner[d] != c:
                        collapsed[c].add(owner[d])
        for comp in cycles(list(children), collapsed):
            names = ["/".join(c) + ("/" if any(len(m) > len(c) for m in children[c]) else ".rs") for c in comp]
            problems.append("folders import each other: " + " <-> ".join(names))
            if "--why" in sys.argv:
                members = set(comp)
                for m in sorted(owner):
                    for d in sorted(edges[m]):
                        if owner[m] in members and owner.get(d) in members and owner[d] != owner[m]:
                            problems.append(f"    {rel(mods, m)} -> {rel(mods, d)}")
    # The pure core does not reach the backends.
    for pure in PURE:
        start = [m for m in mods if m[:1] == (pure,)]
        seen, todo = set(start), list(start)
        while todo:
            v = todo.pop()
            for w in edges[v]:
                if w[:1] == (BACKENDS,):
                    problems.append(f"src/{pure}/ reaches the backends: {rel(mods, v)} imports {rel(mods, w)}")
                elif w not in seen:
                    seen.add(w)
                    todo.append(w)
    # The shared vocabulary stands alone.
    for m in mods:
        if m[:1] == (VOCABULARY,):
            for d in sorted(edges[m]):
                if d[:1] != (VOCABULARY,):
                    problems.append(f"src/{VOCABULARY}/ imports another module: {rel(mods, m)} imports {rel(mods, d)}")
    # Loose files.
    for name in sorted(os.listdir(SRC)):
        if name.endswith(".rs") and name not in LOOSE:
            problems.append(f"loose file in src/: {name} (allowed: {', '.join(sorted(LOOSE))})")
    # The README's layout table names every folder and loose file of src/, and nothing else.
    readme = open(os.path.join(SRC, "..", "README.md"), encoding="utf-8").read()
    table = readme.split("### Layout", 1)[-1].split("\n## ", 1)[0]
    named = set(re.findall(r"`src/([\w./]+?)/?`", table))
    present = {n for n in os.listdir(SRC) if n.endswith(".rs") or os.path.isdir(os.path.join(SRC, n))}
    for n in sorted(present - named):
        problems.append(f"README.md's layout section does not mention src/{n}")
    for n in sorted(named - present):
        problems.append(f"README.md's layout section names src/{n}, which does not exist")
    for p in problems:
        print(p)
    if problems:
        print(f"layout: {sum(not p.startswith(' ') for p in problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"layout: {len(mods)} modules, no import cycle between files or folders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
