#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
"""Validates vcpkg.json manifests against vcpkg's published JSON schema (the copy in schema/).

Usage: validate_manifest.py <vcpkg.json>...   (needs jsonschema >= 4.18, for `referencing`)
"""
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource

SCHEMA_DIR = pathlib.Path(__file__).resolve().parent / "schema"


def main(paths):
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    root = json.loads((SCHEMA_DIR / "vcpkg.schema.json").read_text())
    validator = jsonschema.Draft7Validator(root, registry=registry, format_checker=jsonschema.FormatChecker())
    failed = False
    for path in paths:
        manifest = json.loads(pathlib.Path(path).read_text())
        errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
        for error in errors:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            print(f"{path}: {where}: {error.message}", file=sys.stderr)
        failed |= bool(errors)
        if not errors:
            print(f"{path}: valid against vcpkg.schema.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
