#!/usr/bin/env python3
"""Validate prism's JSON outputs against the hand-written schemas in docs/schema/.

usage: validate_json.py SCHEMA.json OUTPUT [OUTPUT...]
An OUTPUT ending in .jsonl is validated line by line (prism batch). Exit status 0 when every
document is valid; otherwise one line per problem on stderr and status 1. Status 3 when the
`jsonschema` package is missing (pip install -r tools/requirements-schema.txt).
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("jsonschema is not installed: pip install -r tools/requirements-schema.txt", file=sys.stderr)
    sys.exit(3)


def documents(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield f"{path}:{n}", json.loads(line)
        else:
            yield path, json.load(f)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    count = 0
    for path in argv[2:]:
        for where, doc in documents(path):
            count += 1
            for e in validator.iter_errors(doc):
                bad += 1
                location = "/".join(str(p) for p in e.absolute_path)
                print(f"{where}: /{location}: {e.message[:300]}", file=sys.stderr)
    if count == 0:
        print("no documents to validate", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
