"""Write the API's published contract, docs/openapi.json, from the publish function's routes.

    PYTHONPATH=layers/common python -m build.openapi           # (re)write docs/openapi.json
    PYTHONPATH=layers/common python -m build.openapi --check   # exit 1 if it is not what the code generates

`make openapi` runs the first. The document is the one `GET /openapi.json` serves (notifier.api.docs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = REPO_ROOT / "docs" / "openapi.json"


def generate() -> str:
    """The OpenAPI document of the publish function, as `GET /openapi.json` answers it."""
    from notifier.api import docs  # noqa: PLC0415 - needs the layer on the path (PYTHONPATH)
    from notifier.api.resolver import app  # noqa: PLC0415

    return docs.document(app)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is stale")
    args = parser.parse_args(argv)
    generated = generate()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != generated:
            print(f"{DOCUMENT.relative_to(REPO_ROOT)} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(generated, encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
