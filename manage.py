#!/usr/bin/env python
import os
import sys
from urllib.parse import unquote, urlsplit

# Commands that change the schema or bulk-load data run as the database owner role (docs/security.md): with
# DATABASE_OWNER_URL set they connect with it, and the application role (the user of DATABASE_URL) is the one
# the grants after a migration go to.
OWNER_COMMANDS = {
    "migrate", "db_roles", "seed_demo", "load_demo", "createcachetable", "flush", "sqlflush", "partitions",
}  # fmt: skip


def _as_owner(argv: list[str]) -> None:
    owner_url = os.environ.get("DATABASE_OWNER_URL", "").strip()
    if not owner_url or len(argv) < 2 or argv[1] not in OWNER_COMMANDS:
        return
    app_url = os.environ.get("DATABASE_URL", "").strip()
    if app_url and not os.environ.get("DATABASE_APP_ROLE"):
        os.environ["DATABASE_APP_ROLE"] = unquote(urlsplit(app_url).username or "")
    os.environ["DATABASE_URL"] = owner_url


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
    _as_owner(sys.argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
