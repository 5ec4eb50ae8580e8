"""``python -m api.rest [--output FILE]``: print (or write) the OpenAPI document of /api/v1."""

from __future__ import annotations

import argparse
import sys

from api.rest.openapi import document, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", help="write here instead of stdout")
    args = parser.parse_args(argv)
    text = render(document())
    if args.output:
        with open(args.output, "w") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
