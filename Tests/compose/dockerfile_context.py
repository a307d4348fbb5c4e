#!/usr/bin/env python3
"""Reads the Dockerfile the way `docker build .` does, without Docker: its stages, COPY and RUN instructions, and
the build context after `.dockerignore`.

    python3 Tests/compose/dockerfile_context.py --stage build --into DIR

copies into DIR exactly what the stage's COPY lines bring into its WORKDIR (honouring .dockerignore) and prints
the stage's `swift build` RUN commands, one per line, for Tests/compose/check_dockerfile_build.sh to run there.
check_compose.py imports it to check the context holds every folder Package.swift names.

Standard library only.
"""
import argparse
import fnmatch
import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions(path):
    """The Dockerfile's instructions as (KEYWORD, text), continuation lines joined, comments dropped."""
    out = []
    current = ""
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    return out


def stages(path):
    """[{name, from, workdir, copies: [(flags, sources, destination)], runs: [text]}] in file order."""
    result = []
    for keyword, text in instructions(path):
        if keyword == "FROM":
            words = text.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(result))
            result.append({"name": name, "from": words[0], "workdir": "/", "copies": [], "runs": []})
        elif keyword == "WORKDIR":
            stage = result[-1]
            stage["workdir"] = os.path.normpath(os.path.join(stage["workdir"], text))
        elif keyword == "COPY":
            if text.startswith("["):
                words = json.loads(text)
            else:
                words = text.split()
            flags = [w for w in words if w.startswith("--")]
            rest = [w for w in words if not w.startswith("--")]
            result[-1]["copies"].append((flags, rest[:-1], rest[-1]))
        elif keyword == "RUN":
            result[-1]["runs"].append(text)
    return result


def ignore_patterns(root):
    """`.dockerignore` lines as (negated, regex), in order; the last pattern that matches a path decides."""
    path = Path(root) / ".dockerignore"
    patterns = []
    if not path.exists():
        return patterns
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:].strip()
        line = os.path.normpath(line.lstrip("/"))
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**", i):
                regex += ".*"
                i += 2
                if i < len(line) and line[i] == "/":
                    regex = regex[:-2] + "(?:.*/)?"
                    i += 1
                continue
            c = line[i]
            regex += "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
            i += 1
        patterns.append((negated, re.compile(regex + "$")))
    return patterns


def ignored(relative, patterns):
    """Whether `relative` (a path inside the context, `/`-separated) is left out of the context."""
    parts = relative.split("/")
    verdict = False
    for negated, regex in patterns:
        # A pattern matching a directory leaves out everything below it.
        if any(regex.match("/".join(parts[: n + 1])) for n in range(len(parts))):
            verdict = not negated
    return verdict


def context_files(root):
    """Every file of the build context, relative to `root`, after `.dockerignore`."""
    patterns = ignore_patterns(root)
    files = []
    for directory, subdirectories, names in os.walk(root):
        relative_directory = os.path.relpath(directory, root)
        for name in names:
            relative = os.path.normpath(os.path.join(relative_directory, name))
            if not ignored(relative, patterns):
                files.append(relative)
        # Skip big ignored trees (.build, .git) quickly; negations below them are not supported (docker's are rare).
        subdirectories[:] = [
            d
            for d in subdirectories
            if not ignored(os.path.normpath(os.path.join(relative_directory, d)), patterns)
        ]
    return sorted(files)


def copy_stage(root, stage, into):
    """Copies what the stage's context COPY lines bring in (not `--from=`) to `into`, which stands for the stage's
    WORKDIR. Returns the destination paths (relative to `into`) of the files copied."""
    files = context_files(root)
    copied = []
    for flags, sources, destination in stage["copies"]:
        if any(f.startswith("--from") for f in flags):
            continue
        target = destination if destination.startswith("/") else os.path.join(stage["workdir"], destination)
        target = os.path.relpath(os.path.normpath(target), stage["workdir"])
        if target.startswith(".."):
            raise SystemExit("COPY destination %s is outside WORKDIR %s" % (destination, stage["workdir"]))
        for source in sources:
            source = os.path.normpath(source)
            matched = [f for f in files if f == source or f.startswith(source + "/") or fnmatch.fnmatch(f, source)]
            if not matched:
                raise SystemExit("COPY %s: nothing in the build context (after .dockerignore)" % source)
            for f in matched:
                if f == source and not destination.endswith("/") and len(sources) == 1:
                    out = target  # COPY file dest: dest is the file's new name
                elif f == source or fnmatch.fnmatch(f, source) and "/" not in source:
                    out = os.path.join(target, os.path.basename(f))
                else:
                    out = os.path.join(target, os.path.relpath(f, source))
                out = os.path.normpath(out)
                Path(into, out).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root, f), Path(into, out))
                copied.append(out)
    return copied


def manifest_folders(package_swift):
    """The folders SwiftPM requires for the targets of Package.swift: Sources/NAME, Tests/NAME for test targets, or
    the target's `path:`."""
    text = Path(package_swift).read_text(encoding="utf-8")
    folders = []
    for match in re.finditer(r"\.(target|executableTarget|testTarget|systemLibrary)\(\s*name:\s*\"([^\"]+)\"", text):
        kind, name = match.group(1), match.group(2)
        # `path:` inside the same call, if any (up to the next target declaration).
        tail = text[match.end():]
        following = re.search(r"\.(target|executableTarget|testTarget|systemLibrary)\(", tail)
        body = tail[: following.start()] if following else tail
        path = re.search(r"path:\s*\"([^\"]+)\"", body)
        folders.append(path.group(1) if path else ("Tests/" if kind == "testTarget" else "Sources/") + name)
    return folders


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dockerfile", default=str(ROOT / "Dockerfile"))
    parser.add_argument("--stage", default="build", help="the stage whose context to copy (its AS name)")
    parser.add_argument("--into", required=True, help="an empty directory standing for the stage's WORKDIR")
    args = parser.parse_args()
    found = [s for s in stages(args.dockerfile) if s["name"] == args.stage]
    if not found:
        raise SystemExit("no stage %r in %s" % (args.stage, args.dockerfile))
    stage = found[0]
    copy_stage(ROOT, stage, args.into)
    for run in stage["runs"]:
        if "swift build" in run:
            print(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
