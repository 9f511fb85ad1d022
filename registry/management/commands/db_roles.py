"""Create the application role and grant it what the web and worker processes need (docs/security.md).

    DATABASE_OWNER_URL=postgres://tzsi_owner:…@db/taizhou_si .venv/bin/python manage.py db_roles --role tzsi_app

Runs as the owner role (manage.py switches to DATABASE_OWNER_URL for this command); creating the role and
granting SET on session_replication_role need a superuser (or CREATEROLE), the row grants only the owner."""

import os

from django.core.management import BaseCommand, CommandError
from django.db import connection

from registry.security.dbroles import app_role_create


class Command(BaseCommand):
    help = "Create the application database role (no superuser, owns nothing) and grant it DML, TEMP and SET."

    def add_arguments(self, parser):
        parser.add_argument("--role", default=os.environ.get("DATABASE_APP_ROLE", "tzsi_app"))
        parser.add_argument(
            "--password-env",
            default="DATABASE_APP_PASSWORD",
            help="environment variable holding the role's password (none: the role's password is left alone)",
        )

    def handle(self, *args, role: str, password_env: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("db_roles needs PostgreSQL (DATABASE_URL / DATABASE_OWNER_URL = postgres://…).")
        for line in app_role_create(role=role, password=os.environ.get(password_env, "")):
            self.stdout.write(line)
