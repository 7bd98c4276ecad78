#!/usr/bin/env python3
"""Stress run of `prism batch` resumability (issue 14): SIGKILLs, a second writer, changed options.

1. Writes a JSONL input of --records lines (varied prompt lengths, text and id prompts, several
   targets and target differences, explicit positions) with some deliberately bad lines: a
   multi-token target, an unknown key, unparseable lines, a line without an id, duplicate ids.
   Every line must give exactly one output record.
2. Runs an uninterrupted reference (twice: the reference must reproduce itself), and finds the
   smallest --max-memory that runs the whole input with --chunk 1.
3. On a second output, starts `prism batch` again and again, each time with a random --chunk
   (1..64, log-uniform) and --max-memory (log-uniform between that minimum and 256MiB), and sends
   SIGKILL after a random delay until --kills kills have landed. The delays are paced from the
   reference's timing so that the kills are spread over the whole job: some during start-up, most
   while chunks are computed, and (with small chunks) while results and journal are committed.
   At random iterations (~20%) a SECOND writer is started on the same output while the first
   runs; the first is killed only once the second has reached its output (or exited), so a
   lock, if there is one, is seen by both. Then the job is resumed to the end, and
   `prism merge OUT -o MERGED --input IN` must pass.
4. Checks: no torn line; every input line exactly once in the output (records are matched to
   input lines by a "line" field when the output has one, else by id, else by the generated ids
   "line:N" and "ID#lineN"); every record byte-identical to the reference's (else: how many
   differ, and the largest absolute difference per numeric field); every pair of writers locked
   out (one of them exited non-zero on its own with an error line matching --lock-pattern; a
   non-zero exit for another reason counts as a failure, not a lock); no lone writer failed.
5. Prints a summary (and writes WORK/summary.json); exits 1 when any check fails, 2 on a setup
   error (binary, model or reference run failing).

Standard library only. Every child has a timeout and runs in its own process group; all are
killed and reaped on exit (also on Ctrl-C).

Usage: python3 tools/stress_batch.py [--prism .build/release/prism] [--model models/tiny-gemma.prism]
          [--records 300] [--kills 100] [--seed N] [--work-dir DIR] [--keep] [--detail summary|full]
          [--second-writer-rate 0.2] [--min-memory SIZE]
"""
import argparse
import atexit
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20
MAX_BUDGET_MIB = 256
POLL_S = 0.001
LOCK_GRACE_S = 0.1      # a second writer that has opened the output refuses within this, or runs


class SetupError(Exception):
    """The stress run cannot start (binary, model or reference failing): exit 2."""


# MARK: - Children: own process group, timeouts, always reaped

LIVE = set()


class Child:
    """One `prism` process, stdout and stderr to files in the work dir."""

    def __init__(self, argv, log_stem):
        self.argv = argv
        self.out_path = log_stem + ".stdout"
        self.err_path = log_stem + ".stderr"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True)
        self.started = time.monotonic()
        self.killed = False        # our SIGKILL ended it (not a natural exit)
        self.timed_out = False
        self.opened_at = None      # seconds after start when it was first seen holding its output
        LIVE.add(self)

    def alive(self):
        if self.proc.poll() is None:
            return True
        LIVE.discard(self)
        return False

    def elapsed(self):
        return time.monotonic() - self.started

    def kill(self):
        """SIGKILL to the process group; True when it was still running (the kill counted)."""
        if not self.alive():
            return False
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        LIVE.discard(self)
        # It may have exited on its own between poll() and the signal.
        self.killed = self.proc.returncode == -signal.SIGKILL
        return self.killed

    def wait(self, timeout):
        """Waits for a natural exit; past `timeout` it is killed and marked timed out."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.kill()
        LIVE.discard(self)
        return self.proc.returncode

    def open_files(self):
        """The paths the process holds open (empty once it is gone)."""
        fd_dir = "/proc/%d/fd" % self.proc.pid
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return []
        paths = []
        for name in names:
            try:
                paths.append(os.readlink(os.path.join(fd_dir, name)))
            except OSError:
                continue
        return paths

    def holds(self, path):
        return path in self.open_files()

    def note_output_opened(self, output):
        """Records the first moment the process holds a file under OUTPUT* open (its journal,
        results or lock file): past that point it has claimed the output, or tried to."""
        if self.opened_at is not None:
            return True
        if any(target.startswith(output) for target in self.open_files()):
            self.opened_at = self.elapsed()
            return True
        return False

    @property
    def returncode(self):
        return self.proc.returncode

    def stderr_line(self):
        """The last non-empty stderr line (progress bars end in \\r; take what follows)."""
        try:
            with open(self.err_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [l.strip() for l in re.split(r"[\r\n]", text) if l.strip()]
        return lines[-1] if lines else ""


def kill_all_children():
    for child in list(LIVE):
        child.kill()


def on_signal(signum, _frame):
    kill_all_children()
    print("stress_batch: interrupted; children killed, work dir kept", file=sys.stderr)
    sys.exit(128 + signum)


# MARK: - Input

PAIRS = [("France", "Paris"), ("Russia", "Moscow"), ("Vietnam", "Hanoi"), ("Ireland", "Dublin"),
         ("Netherlands", "Amsterdam"), ("Iran", "Tehran"), ("Korea", "Seoul"), ("England", "London"),
         ("Japan", "Tokyo")]
NAMES = ["Tom", "Anna", "Maria", "Ben", "Lucy", "Sam", "Emma", "Paul", "Nina", "Leo"]
PLACES = ["park", "river", "market", "school", "garden", "house", "station", "library", "beach"]
ADJECTIVES = ["big", "small", "old", "new", "red", "green", "happy", "quiet", "warm", "cold"]
FILLERS = ["{name} goes to the {place}.", "The {adj} {place} is near.", "{name} lives in {k}.",
           "{k} is a {adj} city.", "{name} flew to {c} today.", "There is a {adj} cat in the {place}."]
VOCAB = 1024          # tiny-gemma's; ids prompts and target_ids stay below it
BAD_KINDS = ["multi-token target", "unknown key", "unparseable", "unparseable", "no id",
             "duplicate id", "duplicate id", "no targets"]


def filler(rng):
    c, k = rng.choice(PAIRS)
    return rng.choice(FILLERS).format(name=rng.choice(NAMES), place=rng.choice(PLACES),
                                      adj=rng.choice(ADJECTIVES), c=c, k=k)


def good_record(rng, rid):
    """A valid record: a text prompt of 0..9 filler sentences (about 6..90 tokens) ending in a
    capital or addition question, or a prompt of raw ids (1..100 tokens); one to four targets."""
    rec = {"id": rid}
    kind = rng.random()
    if kind < 0.8:
        lead = " ".join(filler(rng) for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 9])))
        if rng.random() < 0.6:
            question = "The capital city of %s is" % rng.choice(PAIRS)[0]
        else:
            question = "%d+%d=" % (rng.randint(0, 9), rng.randint(0, 9))
        rec["prompt"] = (lead + " " + question).strip()
        capitals = [" " + k for _, k in PAIRS]
        digits = [str(d) for d in range(10)]
        pool = capitals if "capital" in question else digits
        rec["targets"] = rng.sample(pool, rng.choice([1, 1, 1, 2, 3]))
        if rng.random() < 0.15:
            rec["target_diffs"] = [rng.sample(pool, 2) for _ in range(rng.choice([1, 2]))]
    else:
        n = rng.choice([1, 2, 3, 8, 30, 100])
        rec["ids"] = [2] + [rng.randrange(6, VOCAB) for _ in range(n - 1)]
        rec["target_ids"] = rng.sample(range(VOCAB), rng.choice([1, 2, 4]))
    if rng.random() < 0.1:
        length_guess = len(rec.get("ids", [])) or 2
        rec["position"] = rng.choice([-2, -3]) if length_guess > 3 or "prompt" in rec else -1
    return rec


def bad_line(rng, kind, rid, earlier_ids):
    if kind == "multi-token target":
        return json.dumps({"id": rid, "prompt": "The capital city of France is", "targets": [" Constantinople"]})
    if kind == "unknown key":
        return json.dumps({"id": rid, "prompt": "7+2=", "targets": ["9"], "colour": "red"})
    if kind == "unparseable":
        return json.dumps({"id": rid, "prompt": "The capital city of Japan is", "targets": [" Tokyo"]})[:25]
    if kind == "no id":
        return json.dumps({"prompt": "3+4=", "targets": ["7"]})
    if kind == "duplicate id":
        return json.dumps({"id": rng.choice(earlier_ids), "prompt": "1+1=", "targets": ["2"]})
    if kind == "no targets":
        return json.dumps({"id": rid, "prompt": "5+5="})
    raise ValueError(kind)


def make_input(n, rng):
    """The input's lines (no blank ones: every line is a record) and what each is."""
    bad_at = dict(zip(rng.sample(range(5, n), min(len(BAD_KINDS), max(0, n - 5))), BAD_KINDS))
    lines, kinds, ids = [], [], []
    for k in range(n):
        rid = "r%03d" % k
        if k in bad_at:
            lines.append(bad_line(rng, bad_at[k], rid, ids))
            kinds.append(bad_at[k])
        else:
            lines.append(json.dumps(good_record(rng, rid), ensure_ascii=False))
            kinds.append("good")
            ids.append(rid)
    return lines, kinds


def id_lines(lines):
    """id -> line number (1-based) of the first line carrying it, as the batch reader sees it."""
    first = {}
    for number, text in enumerate(lines, 1):
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        rid = obj.get("id") if isinstance(obj, dict) else None
        if isinstance(rid, (int, float)) and not isinstance(rid, bool):
            rid = str(rid)
        if isinstance(rid, str) and rid and rid not in first:
            first[rid] = number
    return first


def record_line(obj, first_line):
    """The input line an output record answers: its "line" field when it has one, else its id
    (a real id, or the generated 'line:N' and 'ID#lineN' of today's error records)."""
    line = obj.get("line")
    if isinstance(line, int) and not isinstance(line, bool):
        return line
    rid = obj.get("id")
    if isinstance(rid, str):
        if rid in first_line:
            return first_line[rid]
        m = re.search(r"line\D{0,3}(\d+)$", rid)    # 'line:N', 'ID#lineN', or alike
        if m:
            return int(m.group(1))
    return None


# MARK: - Output files

def read_records(path, first_line):
    """Parses a results file: (line number -> [raw record bytes...], torn/invalid line notes)."""
    by_line, problems = {}, []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return by_line, ["cannot read %s: %s" % (path, e)]
    if data and not data.endswith(b"\n"):
        problems.append("ends in a torn line (%d bytes after the last newline)" % len(data.rsplit(b"\n", 1)[-1]))
    for k, raw in enumerate(data.split(b"\n")):
        if not raw:
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            problems.append("line %d is not JSON: %r" % (k + 1, raw[:60]))
            continue
        if not isinstance(obj, dict):
            problems.append("line %d is not an object" % (k + 1))
            continue
        number = record_line(obj, first_line)
        if number is None:
            problems.append("line %d answers no input line (id %r)" % (k + 1, obj.get("id")))
            continue
        by_line.setdefault(number, []).append(raw)
    return by_line, problems


def file_state(output):
    """What the output and its journal hold now (journal format 2: a header line, then
    {"chunk", "lines", "bytes"} per committed chunk; format 1 had "ids"). `committed` is None
    for another format."""
    def read(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return b""
    out, journal = read(output), read(output + ".journal")
    committed, committed_ids = 0, set()   # a set: two writers may both commit an id
    for raw in journal.split(b"\n")[1:] if journal.endswith(b"\n") else journal.split(b"\n")[1:-1]:
        if not raw:
            continue
        try:
            entry = json.loads(raw)
            committed = int(entry["bytes"])
            committed_ids.update(entry["lines"] if "lines" in entry else entry["ids"])
        except (ValueError, KeyError, TypeError):
            committed = None
            break
    lines = out.count(b"\n")
    return {"size": len(out), "torn_output": bool(out) and not out.endswith(b"\n"), "lines": lines,
            "done": len(committed_ids) if committed is not None else lines,
            "journal_torn": bool(journal) and not journal.endswith(b"\n"),
            "committed": committed}


def kill_phase(before, after, opened):
    """Where a kill landed, read from the files it left (today's journal format)."""
    if after["committed"] is None:
        return "journal unreadable (another format, or garbled)"
    if after["journal_torn"]:
        return "writing the journal line"
    if after["size"] > after["committed"]:
        return "appending results (torn line)" if after["torn_output"] else "between results fsync and journal commit"
    if after["committed"] != (before["committed"] or 0):
        return "after a commit, computing the next chunk"
    return "computing the first chunk" if opened else "start-up (output not yet opened)"


# MARK: - Runs

class Stress:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = args.work_dir
        self.input = os.path.join(self.work, "in.jsonl")
        self.ref = os.path.join(self.work, "ref.jsonl")
        self.out = os.path.join(self.work, "out.jsonl")
        self.merged = os.path.join(self.work, "merged.jsonl")
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.runs = 0
        self.child_timeout = 600.0
        self.open_times = []       # seconds from start to holding the output, per observed run
        self.rate = 100.0          # records per second after start-up, from the reference
        self.pace = 1.0            # adapted so that the job lasts about as many kills as asked
        self.kills = 0
        self.kill_phases = {}
        self.modes = {}            # how each writer's kill was planned
        self.trace = []            # one dict per iteration (summary.json)
        self.notes = []            # lone writers that failed
        self.kills_with_work = 0   # kills of the first writer after which records remained
        self.second = []           # one dict per second-writer attempt
        self.starts = 0
        self.options_used = []

    def argv(self, output, chunk=None, budget_mib=None):
        a = [self.args.prism, "batch", "-m", self.args.model, "--input", self.input, "--output", output,
             "--quiet", "--detail", self.args.detail]
        if chunk is not None:
            a += ["--chunk", str(chunk)]
        if budget_mib is not None:
            a += ["--max-memory", "%dMiB" % budget_mib]
        return a

    def start(self, output, chunk=None, budget_mib=None, tag="run"):
        self.runs += 1
        return Child(self.argv(output, chunk, budget_mib), os.path.join(self.logs, "%04d-%s" % (self.runs, tag)))

    def run_to_end(self, output, chunk=None, budget_mib=None, tag="run"):
        """Runs a batch to its natural end, watching when it opens the output."""
        child = self.start(output, chunk, budget_mib, tag)
        deadline = child.started + self.child_timeout
        while child.alive() and time.monotonic() < deadline:
            child.note_output_opened(output)
            time.sleep(POLL_S)
        child.wait(max(0.0, deadline - time.monotonic()))
        if child.opened_at is not None:
            self.open_times.append(child.opened_at)
        return child

    # Reference and budget floor

    def reference(self):
        t0 = time.monotonic()
        child = self.run_to_end(self.ref, tag="reference")
        wall = time.monotonic() - t0
        if child.returncode != 0:
            raise SetupError("the reference run failed (exit %s): %s" % (child.returncode, child.stderr_line()))
        again = os.path.join(self.work, "ref2.jsonl")
        child2 = self.run_to_end(again, tag="reference-again")
        if child2.returncode != 0:
            raise SetupError("the second reference run failed (exit %s): %s" % (child2.returncode, child2.stderr_line()))
        with open(self.ref, "rb") as a, open(again, "rb") as b:
            reproducible = a.read() == b.read()
        startup = statistics.median(self.open_times) if self.open_times else 0.02
        self.rate = self.args.records / max(1e-3, wall - startup)
        # A run that ends on its own takes the reference's time at most at chunk 1 and the
        # smallest budget; give every child ample room over that.
        self.child_timeout = max(120.0, 60 * wall)
        return {"wall_s": wall, "startup_s": startup, "records_per_s": self.rate,
                "reproducible": reproducible, "summary": child.stderr_line()}

    def error_lines(self, path, first_line):
        by_line, _ = read_records(path, first_line)
        return sorted(n for n, raws in by_line.items() if any(isinstance(json.loads(r).get("error"), str) for r in raws))

    def min_budget_mib(self, first_line):
        """Smallest whole MiB under which the whole input runs at --chunk 1 with the reference's
        error records and no others (a budget too small for a record must not count as feasible,
        whether the job aborts or the record becomes an error)."""
        if self.args.min_memory:
            return self.args.min_memory
        want = self.error_lines(self.ref, first_line)

        def feasible(mib):
            path = os.path.join(self.work, "budget-%d.jsonl" % mib)
            child = self.run_to_end(path, chunk=1, budget_mib=mib, tag="budget-%d" % mib)
            ok = child.returncode == 0 and self.error_lines(path, first_line) == want
            for p in (path, path + ".journal"):
                if os.path.exists(p):
                    os.remove(p)
            return ok

        if not feasible(MAX_BUDGET_MIB):
            raise SetupError("the input does not run under --max-memory %dMiB at --chunk 1" % MAX_BUDGET_MIB)
        lo, hi = 0, MAX_BUDGET_MIB     # lo infeasible (or zero), hi feasible
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if feasible(mid):
                hi = mid
            else:
                lo = mid
        return hi

    # The stress loop

    def random_options(self, floor_mib):
        chunk = int(round(math.exp(self.rng.uniform(0, math.log(64)))))
        budget = int(round(math.exp(self.rng.uniform(math.log(floor_mib), math.log(MAX_BUDGET_MIB)))))
        return max(1, min(64, chunk)), max(floor_mib, min(MAX_BUDGET_MIB, budget))

    def startup(self):
        return statistics.median(self.open_times) if self.open_times else 0.02

    def remaining(self):
        """Records not yet committed (by the journal when its format is known)."""
        return max(0, self.args.records - file_state(self.out)["done"])

    def kill_plan(self, paced_only=False):
        """When to kill a writer: (mode, delay). 20% 'start-up': within start-up; 15% 'commit':
        the moment the output grows (results appended: the kill lands in the commit, before or
        after the journal line), with `delay` as a cap; the rest 'paced': past start-up by a
        random slice of work averaging remaining records / kills left, so that the job spans
        the kills (`pace` corrects the estimate when runs make no progress). No slice exceeds
        half the remaining work at the reference's speed, so one run never finishes the job
        while kills are left."""
        startup = self.startup()
        r = 1.0 if paced_only else self.rng.random()
        if r < 0.2:
            return "start-up", self.rng.uniform(0, 1.2 * startup)
        remaining = self.remaining()
        kills_left = max(1, self.args.kills - self.kills)
        most = 0.5 * remaining / self.rate
        if r < 0.35:
            return "commit", startup + most
        window = min(2 * remaining / kills_left / self.rate * self.pace, most)
        return "paced", startup + self.rng.uniform(0, window)

    def wait_until(self, child, until, also=None, grows_past=None):
        """Polls until `until` (monotonic) or the child's exit, noting when it opens the output;
        `also` is a second child watched the same way. With `grows_past`, returns as soon as the
        output is longer than that many bytes."""
        while time.monotonic() < until and child.alive():
            child.note_output_opened(self.out)
            if also is not None and also.alive():
                also.note_output_opened(self.out)
            if grows_past is not None and child.holds(self.out):
                try:
                    if os.stat(self.out).st_size > grows_past:
                        return
                except OSError:
                    pass
            time.sleep(POLL_S)

    def finish(self, child):
        """Reaps a run that ended (killed or not) and reads the files it left."""
        if child.alive():
            child.wait(self.child_timeout)
        after = file_state(self.out)
        if child.opened_at is not None:
            self.open_times.append(child.opened_at)
        return after

    def one_iteration(self, floor_mib):
        before = file_state(self.out)
        remaining = self.remaining()
        chunk, budget = self.random_options(floor_mib)
        self.options_used.append((chunk, budget))
        a = self.start(self.out, chunk, budget, tag="writer-c%d-m%d" % (chunk, budget))
        self.starts += 1
        mode, delay = self.kill_plan()
        self.modes[mode] = self.modes.get(mode, 0) + 1
        b = None
        if self.rng.random() < self.args.second_writer_rate:
            t2 = self.rng.uniform(0, delay)
            self.wait_until(a, a.started + t2)
            b = self.second_writer(a, floor_mib)
        # The output is cut back to what the journal committed when the writer opens it; then
        # any growth is this writer's results.
        grows_past = (before["size"] if before["committed"] is None else before["committed"]) if mode == "commit" else None
        self.wait_until(a, a.started + delay, also=b, grows_past=grows_past)
        killed = a.kill()
        if b is not None:
            self.settle_second(a, b)
        after = self.finish(a)
        phase = None
        if killed:
            self.kills += 1
            phase = kill_phase(before, after, a.opened_at is not None)
            self.kill_phases[phase] = self.kill_phases.get(phase, 0) + 1
        elif a.returncode != 0 and b is None:
            # A lone writer must not fail: note it (a crash loop would show here).
            self.notes.append("lone writer exited %s: %s" % (a.returncode, a.stderr_line()))
        # Runs cut before their first commit (large chunks) make no progress: lengthen the slices;
        # runs that commit more than twice the share of a kill: shorten them.
        progress = after["done"] - before["done"]
        share = remaining / max(1, self.args.kills - self.kills + 1)
        if killed and mode == "paced" and progress <= 0:
            self.pace = min(8.0, self.pace * 1.15)
        elif progress > 2 * share:
            self.pace = max(1.0, self.pace / 1.3)
        self.trace.append({"mode": mode, "delay_s": round(delay, 4), "chunk": chunk, "max_memory_mib": budget,
                           "killed": killed, "exit": a.returncode, "phase": phase, "second_writer": b is not None,
                           "done_before": before["done"], "done_after": after["done"],
                           "remaining_after": self.remaining()})
        if killed and self.remaining() > 0:
            self.kills_with_work += 1
        return killed

    def second_writer(self, a, floor_mib):
        """Starts a second writer on the same output while `a` runs; the first is not killed
        before the second has reached its output (plus LOCK_GRACE_S) or exited (capped at
        2 s), so that both meet the lock if there is one."""
        attempt = {"first_alive_at_start": a.alive(), "first_had_output_open": a.opened_at is not None}
        self.second.append(attempt)
        if not a.alive():
            attempt["outcome"] = "skipped (first writer already exited)"
            return None
        chunk, budget = self.random_options(floor_mib)
        b = self.start(self.out, chunk, budget, tag="second-c%d-m%d" % (chunk, budget))
        attempt["b"] = b
        until = time.monotonic() + 2.0
        while time.monotonic() < until and b.alive() and not b.note_output_opened(self.out):
            a.note_output_opened(self.out)
            time.sleep(POLL_S)
        # Opening a file under OUTPUT comes just before trying its lock: give the second writer
        # a moment to refuse before the first can be killed.
        grace = time.monotonic() + LOCK_GRACE_S
        while time.monotonic() < grace and b.alive():
            time.sleep(POLL_S)
        attempt["first_alive_when_second_reached_output"] = a.alive()
        return b

    def settle_second(self, a, b):
        """The second writer runs on after the first's kill for its own random delay, then is
        killed too (each kill counts). Classifies the pair."""
        attempt = self.second[-1]
        self.wait_until(b, time.monotonic() + self.kill_plan(paced_only=True)[1] - self.startup())
        if b.kill():
            self.kills += 1
            self.kills_with_work += self.remaining() > 0
            attempt["b_result"] = "killed while running"
        else:
            attempt["b_result"] = "exit %s" % b.returncode
        attempt["b_stderr"] = b.stderr_line()
        pattern = self.args.lock_pattern

        def refused(c):      # exited on its own, non-zero, with a line about the lock
            return not c.killed and c.returncode not in (0, None) and re.search(pattern, c.stderr_line(), re.I)

        def failed(c):       # exited on its own, non-zero, for some other reason
            return not c.killed and c.returncode not in (0, None) and not refused(c)

        first_done_early = not a.killed and a.returncode == 0 and not attempt["first_alive_when_second_reached_output"]
        if refused(b) or refused(a):
            who, c = ("second", b) if refused(b) else ("first", a)
            attempt["outcome"] = "locked out: %s writer exit %s: %s" % (who, c.returncode, c.stderr_line())
            attempt["locked_out"] = True
        elif failed(b) or failed(a):
            who, c = ("second", b) if failed(b) else ("first", a)
            attempt["outcome"] = "FAILED, not a lock: %s writer exit %s: %s" % (who, c.returncode, c.stderr_line())
            attempt["locked_out"] = False
        elif first_done_early:
            attempt["outcome"] = "inconclusive: the first writer finished before the second reached the output"
        else:
            attempt["outcome"] = "NOT locked out: both ran (second: %s%s)" % (
                attempt["b_result"], ", " + attempt["b_stderr"] if attempt["b_stderr"] else "")
            attempt["locked_out"] = False
        del attempt["b"]

    def stress(self, floor_mib):
        limit = self.args.kills * 20 + 100   # iterations; a run that always ends before its kill stops here
        iterations = 0
        while self.kills < self.args.kills and iterations < limit:
            iterations += 1
            self.one_iteration(floor_mib)
        return iterations

    def resume(self, floor_mib):
        chunk, budget = self.random_options(floor_mib)
        child = self.run_to_end(self.out, chunk, budget, tag="resume-c%d-m%d" % (chunk, budget))
        return {"chunk": chunk, "max_memory_mib": budget, "exit": child.returncode,
                "timed_out": child.timed_out, "stderr": child.stderr_line()}

    def merge(self):
        argv = [self.args.prism, "merge", self.out, "-o", self.merged, "--input", self.input]
        self.runs += 1
        child = Child(argv, os.path.join(self.logs, "%04d-merge" % self.runs))
        child.wait(self.child_timeout)
        return {"exit": child.returncode, "stdout": open(child.out_path, encoding="utf-8", errors="replace").read().strip(),
                "stderr": child.stderr_line()}


# MARK: - Comparing numbers

def numeric_diffs(a, b, path, fields, notes):
    """Walks two JSON values side by side: per field (list indices as []), the largest absolute
    difference; anything that is not a number and differs is noted as structural."""
    if isinstance(a, bool) or isinstance(b, bool):
        if a != b:
            notes.append(path)
        return
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        d = abs(a - b)
        if d > 0 or a != b:
            fields[path] = max(fields.get(path, 0.0), d)
        return
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            notes.append(path + " (keys)")
        for k in a.keys() & b.keys():
            numeric_diffs(a[k], b[k], path + "." + k if path else k, fields, notes)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            notes.append(path + " (length)")
        for x, y in zip(a, b):
            numeric_diffs(x, y, path + "[]", fields, notes)
        return
    if a != b:
        notes.append(path)


def compare(out_by_line, ref_by_line):
    identical, differing, fields, structural = 0, 0, {}, {}
    for number, raws in out_by_line.items():
        ref = ref_by_line.get(number)
        if not ref:
            continue
        if raws[0] == ref[0]:
            identical += 1
            continue
        differing += 1
        notes = []
        numeric_diffs(json.loads(ref[0]), json.loads(raws[0]), "", fields, notes)
        for n in notes:
            structural[n] = structural.get(n, 0) + 1
    return identical, differing, fields, structural


# MARK: - Main

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prism", default=".build/release/prism", help="the prism binary")
    p.add_argument("--model", default="models/tiny-gemma.prism")
    p.add_argument("--records", type=int, default=300)
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    p.add_argument("--work-dir", default=None, help="default: a fresh temporary directory")
    p.add_argument("--keep", action="store_true", help="keep the work dir (always kept when a check fails)")
    p.add_argument("--detail", choices=["summary", "full"], default="summary")
    p.add_argument("--second-writer-rate", type=float, default=0.2)
    p.add_argument("--lock-pattern", default=r"lock|in use|held by|already running|pid \d+",
                   help="regex (case-insensitive) a refused writer's error line must match to count as locked out")
    p.add_argument("--min-memory", type=int, default=None, metavar="MIB",
                   help="smallest --max-memory in MiB (default: searched)")
    args = p.parse_args()
    if args.records < 20:
        p.error("--records must be >= 20 (the bad lines need room)")
    if args.seed is None:
        args.seed = random.randrange(1 << 31)
    args.prism = os.path.abspath(args.prism)
    args.model = os.path.abspath(args.model)
    for what, path in (("--prism", args.prism), ("--model", args.model)):
        if not os.path.exists(path):
            p.error("%s %s does not exist" % (what, path))
    if args.work_dir is None:
        args.work_dir = tempfile.mkdtemp(prefix="prism-stress-")
        args.fresh_dir = True
    else:
        args.work_dir = os.path.abspath(args.work_dir)
        if os.path.exists(args.work_dir) and os.listdir(args.work_dir):
            p.error("--work-dir %s is not empty" % args.work_dir)
        os.makedirs(args.work_dir, exist_ok=True)
        args.fresh_dir = False
    return args


def check_once(out_by_line, n_lines, label):
    """Every input line exactly once: (missing, repeated) line numbers."""
    missing = [n for n in range(1, n_lines + 1) if n not in out_by_line]
    repeated = sorted(n for n, raws in out_by_line.items() if len(raws) > 1)
    extra = sorted(n for n in out_by_line if not 1 <= n <= n_lines)
    return {"label": label, "missing": missing, "repeated": repeated, "extra": extra,
            "ok": not missing and not repeated and not extra}


def main():
    args = parse_args()
    atexit.register(kill_all_children)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    t0 = time.monotonic()
    s = Stress(args)
    print("stress_batch: seed %d, work dir %s" % (args.seed, args.work_dir), flush=True)

    lines, kinds = make_input(args.records, s.rng)
    with open(s.input, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    first_line = id_lines(lines)
    bad = {k: kinds.count(k) for k in set(kinds) if k != "good"}
    print("input: %d lines (%s)" % (len(lines), ", ".join("%d %s" % (v, k) for k, v in sorted(bad.items()))), flush=True)

    try:
        ref_info = s.reference()
        print("reference: %.2f s, start-up %.3f s, %.0f records/s, reproducible: %s (%s)"
              % (ref_info["wall_s"], ref_info["startup_s"], ref_info["records_per_s"],
                 "yes" if ref_info["reproducible"] else "NO", ref_info["summary"]), flush=True)
        floor = s.min_budget_mib(first_line)
        print("smallest --max-memory for the whole input at --chunk 1: %d MiB" % floor, flush=True)
    except SetupError as e:
        print("error: %s (work dir kept: %s)" % (e, args.work_dir), file=sys.stderr)
        return 2

    stress_t0 = time.monotonic()
    iterations = s.stress(floor)
    stress_wall = time.monotonic() - stress_t0
    resumed = s.resume(floor)
    merged = s.merge()

    ref_by_line, ref_problems = read_records(s.ref, first_line)
    out_by_line, out_problems = read_records(s.out, first_line)
    ref_once = check_once(ref_by_line, len(lines), "reference")
    out_once = check_once(out_by_line, len(lines), "stressed")
    identical, differing, fields, structural = compare(out_by_line, ref_by_line)
    attempts = [a for a in s.second if "outcome" in a]
    notes = s.notes
    not_locked = [a for a in attempts if a.get("locked_out") is False]

    checks = [
        ("reference reproduces itself", ref_info["reproducible"], ""),
        ("reference: every input line exactly once, no torn line", ref_once["ok"] and not ref_problems,
         describe_once(ref_once, ref_problems)),
        ("%d kills landed" % args.kills, s.kills >= args.kills, "%d kills in %d iterations" % (s.kills, iterations)),
        ("at least 80% of the kills landed while records remained", s.kills_with_work >= 0.8 * args.kills,
         "%d of %d" % (s.kills_with_work, s.kills)),
        ("final resume exits 0", resumed["exit"] == 0 and not resumed["timed_out"],
         "exit %s: %s" % (resumed["exit"], resumed["stderr"])),
        ("prism merge --input passes", merged["exit"] == 0, "exit %s: %s" % (merged["exit"], merged["stderr"] or merged["stdout"])),
        ("output: no torn or foreign line", not out_problems, "; ".join(out_problems[:5])),
        ("output: every input line exactly once", out_once["ok"], describe_once(out_once, [])),
        ("output: every record byte-identical to the reference", differing == 0 and identical == len(lines),
         "%d identical, %d differ" % (identical, differing)),
        ("second writers locked out", not not_locked,
         "%d of %d pairs not locked out (ran together, or failed for another reason)" % (len(not_locked), len(attempts))),
        ("no lone writer failed", not notes, "%d failed; first: %s" % (len(notes), notes[0] if notes else "")),
        ("no child left running", not LIVE, "%d alive" % len(LIVE)),
    ]

    print()
    print("== summary (seed %d)" % args.seed)
    print("kills: %d in %d iterations (%d writer starts, %d runs in all); stress %.1f s, total %.1f s"
          % (s.kills, iterations, s.starts, s.runs, stress_wall, time.monotonic() - t0))
    complete = next((k for k, t in enumerate(s.trace) if t["remaining_after"] == 0), None)
    print("kills while records remained: %d of %d; the job was complete %s"
          % (s.kills_with_work, s.kills,
             ("only at the final resume" if resumed["exit"] == 0 else "never") if complete is None
             else "after iteration %d of %d (%s)" % (complete + 1, iterations,
                                                    "a second writer ran" if s.trace[complete]["second_writer"] else "a lone writer")))
    print("kill plans: " + ", ".join("%s %d" % kv for kv in sorted(s.modes.items(), key=lambda kv: -kv[1])))
    print("kills by phase: " + ", ".join("%s %d" % kv for kv in sorted(s.kill_phases.items(), key=lambda kv: -kv[1])))
    chunks = [c for c, _ in s.options_used]
    budgets = [m for _, m in s.options_used]
    if chunks:
        print("options: --chunk %d..%d (median %d), --max-memory %d..%d MiB (median %d)"
              % (min(chunks), max(chunks), statistics.median(chunks), min(budgets), max(budgets), statistics.median(budgets)))
    print("second writers: %d attempts" % len(s.second) + ("" if not attempts else ":"))
    outcomes = {}
    for a in attempts:
        key = re.sub(r"\d+(\.\d+)? s\b", "N s", a["outcome"])
        outcomes[key] = outcomes.get(key, 0) + 1
    for key, count in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print("  %3d x %s" % (count, key))
    print("final resume: --chunk %d --max-memory %dMiB: exit %s (%s)"
          % (resumed["chunk"], resumed["max_memory_mib"], resumed["exit"], resumed["stderr"]))
    print("merge: exit %s (%s)" % (merged["exit"], merged["stderr"] or merged["stdout"]))
    print("records: %d identical to the reference, %d differ" % (identical, differing))
    if fields:
        print("  largest absolute differences by field:")
        for name, d in sorted(fields.items(), key=lambda kv: -kv[1])[:12]:
            print("    %-48s %.3g" % (name, d))
    if structural:
        print("  non-numeric differences: " + ", ".join("%s %d" % kv for kv in sorted(structural.items(), key=lambda kv: -kv[1])[:8]))
    print()
    failed = 0
    for name, ok, detail in checks:
        print("%s  %s%s" % ("PASS" if ok else "FAIL", name, "" if ok or not detail else ": " + detail))
        failed += not ok

    summary = {"seed": args.seed, "records": len(lines), "kills": s.kills, "iterations": iterations,
               "kill_phases": s.kill_phases, "second_writers": s.second, "lone_writer_failures": s.notes,
               "reference": ref_info, "min_memory_mib": floor, "resume": resumed, "merge": merged,
               "identical": identical, "differing": differing, "max_abs_diff_by_field": fields,
               "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks], "iterations_trace": s.trace}
    with open(os.path.join(args.work_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    if failed or args.keep or not args.fresh_dir:
        print("\nwork dir kept: %s" % args.work_dir)
    else:
        shutil.rmtree(args.work_dir, ignore_errors=True)
    return 1 if failed else 0


def describe_once(once, problems):
    parts = []
    for key in ("missing", "repeated", "extra"):
        if once[key]:
            parts.append("%d %s (first lines %s)" % (len(once[key]), key, once[key][:5]))
    return "; ".join(parts + problems[:3])


if __name__ == "__main__":
    sys.exit(main())
