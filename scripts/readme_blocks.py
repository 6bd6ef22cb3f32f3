#!/usr/bin/env python3
"""Runs the fenced code blocks of the READMEs as printed (scripts/readme-test.sh).

Usage: readme_blocks.py [--list] FILE.md...

Every fenced block is found and reported (file, line, language, result).
By language:
  sh, bash, shell   run with `bash -e -o pipefail` (a user typing the lines)
  console           the lines starting with "$ " are run that way; the
                    others are sample output and are not compared
  python            run with `python` from PATH (scripts/readme-test.sh puts
                    the test venv, with rtmfp installed, first)
  js, javascript    run with `node` in a scratch directory whose
                    node_modules/rtmfp is bindings/node, so require('rtmfp')
                    works as in a project that installed the package
  ts, typescript    the same, compiled first with bindings/node's tsc
                    (--strict, @types/node from bindings/node)
  c                 compiled with cc -std=c99 -Wall -Wextra -Werror against
                    include/ and the debug librtmfp, then run (or, with
                    file=NAME, written as NAME for the shell block after it)
  anything else     (text, no language) is not code: reported as "text"

Blocks run from the repository root unless annotated, with RTMFP_REPO_BIN
(the built `rtmfp`) on PATH.  Each block is bounded (timeout, default 300 s)
and everything it started is killed at the end (its process group).

Annotations: an HTML comment on the last non-blank line before the fence,
  <!-- readme-test: KEY[=VALUE] ... -->   (shell-style quoting for values)
  skip="REASON"     not run; the reason is printed in the table (required)
  group=NAME        consecutive blocks with this group run together, as in
                    several terminals: each block but the last starts in the
                    background once the one before is ready; the last runs
                    in the foreground; then the others are stopped (stdin
                    closed, then SIGINT, then SIGKILL), except `wait` ones
  ready=REGEX       (in a group) the block is ready once its output matches;
                    default: its first line of output
  wait              (in a group) the block must end by itself, with status 0,
                    after the foreground one did (a player that ends with
                    its publisher)
  input=TEXT        written to the block's stdin once it is ready, then
                    stdin is closed (TEXT's "\\n" are newlines); without it
                    a foreground block's stdin is closed at once and a
                    background block's when its group ends
  expect=REGEX      its output (stdout and stderr) must match
  with-server       `rtmfp server` (default UDP port 1935) runs around the
                    block or group, as the text before it says
  cwd=DIR           run in DIR (relative to the repository root)
  file=NAME         (c) written as NAME in the block's directory for the
                    next block, and removed after it; not run by itself
  timeout=SECS      the bound for this block (default 300)

Exit status: 0 if no block failed (skipped and text blocks do not fail).
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
ANNOTATION = re.compile(r"^\s*<!--\s*readme-test:(.*?)-->\s*$")
KEYS = {"skip", "group", "ready", "wait", "input", "expect", "with-server", "cwd", "file", "timeout"}
LANGS = {
    "sh": "sh", "bash": "sh", "shell": "sh", "console": "console",
    "python": "python", "py": "python", "js": "js", "javascript": "js",
    "ts": "ts", "typescript": "ts", "c": "c",
}
DEFAULT_TIMEOUT = 300
READY_TIMEOUT = 120


class Block:
    def __init__(self, path, line, lang, text, notes):
        self.path, self.line, self.lang, self.text, self.notes = path, line, lang, text, notes
        self.kind = LANGS.get(lang.lower(), "text")
        self.result, self.detail = None, ""

    def where(self):
        return f"{os.path.relpath(self.path, ROOT)}:{self.line}"


def parse_notes(text, where):
    notes = {}
    for word in shlex.split(text):
        key, eq, value = word.partition("=")
        if key not in KEYS:
            sys.exit(f"{where}: unknown readme-test annotation {key!r} (known: {', '.join(sorted(KEYS))})")
        notes[key] = value if eq else True
    if "skip" in notes and (notes["skip"] is True or not notes["skip"].strip()):
        sys.exit(f"{where}: skip needs a reason: skip=\"why\"")
    return notes


def extract(path):
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3)
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[0] * len(fence)):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        notes = {}
        j = start - 2
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0:
            a = ANNOTATION.match(lines[j])
            if a:
                notes = parse_notes(a.group(1), f"{path}:{j + 1}")
        blocks.append(Block(path, start, lang or "", "\n".join(body) + "\n", notes))
    return blocks


# ---------------------------------------------------------------- running --

class Proc:
    """One running block: a process group, its output collected by a thread."""

    def __init__(self, block, argv, cwd, env):
        self.block = block
        self.out = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in iter(self.p.stdout.readline, b""):
            with self.lock:
                self.out.append(raw.decode("utf-8", "replace"))

    def output(self):
        with self.lock:
            return "".join(self.out)

    def wait_for(self, regex, timeout):
        """Until the output matches `regex` (or has a line): True; False on exit or timeout."""
        end = time.monotonic() + timeout
        pattern = re.compile(regex, re.M) if regex else None
        while time.monotonic() < end:
            text = self.output()
            if (pattern.search(text) if pattern else "\n" in text):
                return True
            if self.p.poll() is not None:
                self.reader.join(5)
                text = self.output()
                return bool(pattern.search(text) if pattern else text)
            time.sleep(0.05)
        return False

    def close_stdin(self, text=None):
        try:
            if text:
                self.p.stdin.write(text.encode())
            self.p.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Stdin closed, then SIGINT, then SIGKILL, to the whole group; the status."""
        self.close_stdin()
        for sig, grace in ((None, 5), (signal.SIGINT, 5), (signal.SIGKILL, 5)):
            if sig is not None:
                try:
                    os.killpg(self.p.pid, sig)
                except ProcessLookupError:
                    pass
            rc = self.wait(grace)
            if rc is not None:
                break
        # Whatever the block left behind in its group goes too.
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.reader.join(5)
        return self.p.returncode


class Runner:
    def __init__(self):
        self.scratch = tempfile.mkdtemp(prefix="readme-test.")
        nm = os.path.join(self.scratch, "node_modules")
        os.makedirs(nm)
        os.symlink(os.path.join(ROOT, "bindings", "node"), os.path.join(nm, "rtmfp"))
        self.env = dict(os.environ)
        self.env["PYTHONUNBUFFERED"] = "1"
        self.target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
        self.counter = 0

    def cleanup(self):
        shutil.rmtree(self.scratch, ignore_errors=True)

    def workdir(self, block):
        cwd = block.notes.get("cwd")
        return os.path.join(ROOT, cwd) if isinstance(cwd, str) else ROOT

    def argv(self, block):
        """The command for `block`, after writing what it needs; or raises."""
        self.counter += 1
        base = os.path.join(self.scratch, f"block{self.counter}")
        if block.kind == "sh":
            return ["bash", "-e", "-o", "pipefail", "-c", block.text], self.workdir(block)
        if block.kind == "console":
            cmds = []
            for line in block.text.splitlines():
                if line.startswith("$ "):
                    cmds.append(line[2:])
                elif cmds and cmds[-1].endswith("\\"):
                    cmds[-1] += "\n" + line
            return ["bash", "-e", "-o", "pipefail", "-c", "\n".join(cmds)], self.workdir(block)
        if block.kind == "python":
            with open(base + ".py", "w") as f:
                f.write(block.text)
            return ["python", base + ".py"], self.workdir(block)
        if block.kind == "js":
            with open(base + ".js", "w") as f:
                f.write(block.text)
            return ["node", base + ".js"], self.scratch
        if block.kind == "ts":
            with open(base + ".ts", "w") as f:
                f.write(block.text)
            node_dir = os.path.join(ROOT, "bindings", "node")
            tsc = os.path.join(node_dir, "node_modules", ".bin", "tsc")
            out = base + ".out"
            script = (f"{shlex.quote(tsc)} --strict --noEmitOnError --module commonjs --target es2022 "
                      f"--typeRoots {shlex.quote(os.path.join(node_dir, 'node_modules', '@types'))} "
                      f"--types node --outDir {shlex.quote(out)} {shlex.quote(base + '.ts')}\n"
                      f"node {shlex.quote(os.path.join(out, os.path.basename(base) + '.js'))}")
            return ["bash", "-e", "-c", script], self.scratch
        if block.kind == "c":
            with open(base + ".c", "w") as f:
                f.write(block.text)
            lib = os.path.join(self.target, "debug")
            script = (f"cc -std=c99 -Wall -Wextra -Werror -I {shlex.quote(os.path.join(ROOT, 'include'))} "
                      f"{shlex.quote(base + '.c')} -L {shlex.quote(lib)} -lrtmfp -Wl,-rpath,{shlex.quote(lib)} "
                      f"-o {shlex.quote(base)}\n{shlex.quote(base)}")
            return ["bash", "-e", "-c", script], self.scratch
        raise ValueError(block.kind)

    def start(self, block):
        argv, cwd = self.argv(block)
        return Proc(block, argv, cwd, self.env)

    def server(self):
        """`rtmfp server` on its default port, as the README's text says."""
        proc = Proc(Block("rtmfp server", 0, "sh", "", {}), ["rtmfp", "server"], ROOT, self.env)
        if not proc.wait_for(r"^listening ", 30):
            proc.stop()
            raise RuntimeError("rtmfp server did not start (is UDP 1935 in use?): " + proc.output()[-500:])
        return proc

    def run_group(self, blocks):
        """Runs `blocks` together; sets each one's result."""
        procs = []
        server = None
        try:
            if any(b.notes.get("with-server") for b in blocks):
                try:
                    server = self.server()
                except RuntimeError as e:
                    for b in blocks:
                        b.result, b.detail = "fail", str(e)
                    return
            for n, block in enumerate(blocks):
                last = n == len(blocks) - 1
                proc = self.start(block)
                procs.append(proc)
                timeout = float(block.notes.get("timeout", DEFAULT_TIMEOUT))
                text = block.notes.get("input")
                text = text.replace("\\n", "\n") if isinstance(text, str) else None
                if last:
                    if text is not None:
                        proc.wait_for(block.notes.get("ready"), timeout)
                    proc.close_stdin(text)
                    if proc.wait(timeout) is None:
                        block.result, block.detail = "fail", f"still running after {timeout:.0f} s"
                elif not proc.wait_for(block.notes.get("ready"), min(timeout, READY_TIMEOUT)):
                    block.result, block.detail = "fail", "never ready" + (
                        f" (exit {proc.p.returncode})" if proc.p.poll() is not None else "")
                    break
                elif text is not None:
                    proc.close_stdin(text)
            for proc in procs:
                b = proc.block
                if b.notes.get("wait") and b.result is None:
                    if proc.wait(float(b.notes.get("timeout", DEFAULT_TIMEOUT))) is None:
                        b.result, b.detail = "fail", "did not end by itself"
        finally:
            for proc in reversed(procs):
                rc = proc.stop()
                b = proc.block
                if b.result is not None:
                    continue
                must_exit = b is blocks[-1] or b.notes.get("wait")
                if must_exit and rc != 0:
                    b.result, b.detail = "fail", f"exit status {rc}"
                elif isinstance(b.notes.get("expect"), str) and not re.search(b.notes["expect"], proc.output(), re.M):
                    b.result, b.detail = "fail", f"output does not match {b.notes['expect']!r}"
                else:
                    b.result = "pass"
            if server is not None:
                server.stop()
        for proc in procs:
            b = proc.block
            if b.result is None:
                b.result, b.detail = "fail", "not started (an earlier block failed)"
            if b.result == "fail":
                print(f"--- {b.where()} ({b.lang}) failed: {b.detail}; its output:")
                print(proc.output()[-4000:].rstrip() or "(none)")
        for b in blocks:
            if b.result is None:
                b.result, b.detail = "fail", "not started (an earlier block failed)"


def main(argv):
    listing = "--list" in argv
    files = [a for a in argv if a != "--list"]
    blocks = []
    for path in files:
        blocks += extract(os.path.abspath(path))
    runner = Runner()
    try:
        i = 0
        while i < len(blocks):
            block = blocks[i]
            if block.kind == "text":
                block.result, block.detail = "text", "not code"
                i += 1
                continue
            if "skip" in block.notes:
                block.result, block.detail = "skip", block.notes["skip"]
                i += 1
                continue
            if "file" in block.notes:
                # Written for the next block, removed after it.
                name = os.path.join(runner.workdir(block), block.notes["file"])
                nxt = blocks[i + 1] if i + 1 < len(blocks) else None
                if nxt is None or os.path.exists(name):
                    block.result, block.detail = "fail", f"file={block.notes['file']}: no next block, or it exists"
                    i += 1
                    continue
                block.result, block.detail = "pass", f"as {block.notes['file']}, for line {nxt.line}"
                if listing:
                    block.result = "listed"
                    i += 1
                    continue
                with open(name, "w") as f:
                    f.write(block.text)
                try:
                    run_one(runner, [nxt], listing)
                finally:
                    os.unlink(name)
                    aout = os.path.join(runner.workdir(nxt), "a.out")
                    if os.path.exists(aout):
                        os.unlink(aout)
                if nxt.result == "fail":
                    block.result, block.detail = "fail", f"its compile-and-run block (line {nxt.line}) failed"
                i += 2
                continue
            group = block.notes.get("group")
            members = [block]
            if isinstance(group, str):
                while i + len(members) < len(blocks) and blocks[i + len(members)].notes.get("group") == group:
                    members.append(blocks[i + len(members)])
            run_one(runner, members, listing)
            i += len(members)
    finally:
        runner.cleanup()

    rows = [(os.path.relpath(b.path, ROOT), str(b.line), b.lang or "-", b.result, b.detail) for b in blocks]
    widths = [max(len(r[k]) for r in rows + [("file", "line", "language", "result", "")]) for k in range(4)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(("file", "line", "language", "result"), widths)) + "  detail")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    counts = {}
    for b in blocks:
        counts[b.result] = counts.get(b.result, 0) + 1
    by_lang = {}
    for b in blocks:
        if b.result in ("pass", "fail"):
            by_lang.setdefault(b.lang, [0, 0])[0 if b.result == "pass" else 1] += 1
    print()
    print("by language: " + ", ".join(f"{k} {v[0]} passed/{v[1]} failed" for k, v in sorted(by_lang.items())))
    print(f"README blocks: {counts.get('pass', 0)} passed, {counts.get('fail', 0)} failed, "
          f"{counts.get('skip', 0)} skipped (reasons above), {counts.get('text', 0)} text")
    return 1 if counts.get("fail") else 0


def run_one(runner, members, listing):
    if listing:
        for b in members:
            b.result, b.detail = "listed", ""
        return
    names = ", ".join(f"{b.where()} ({b.lang})" for b in members)
    print(f"--- running {names}", flush=True)
    started = time.monotonic()
    runner.run_group(members)
    print(f"    {', '.join(b.result for b in members)} in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
