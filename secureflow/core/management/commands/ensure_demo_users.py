import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from secureflow.core import roles
from secureflow.core.private_files import write_private_file
from secureflow.core.services import demo_user_ensure

DEMO_USERS = (
    ("admin", roles.ADMIN, "SECUREFLOW_DEMO_ADMIN_PASSWORD"),
    ("investigator", roles.INVESTIGATOR, "SECUREFLOW_DEMO_INVESTIGATOR_PASSWORD"),
)


class Command(BaseCommand):
    help = (
        "Create the demo admin and investigator. Passwords come from "
        "SECUREFLOW_DEMO_ADMIN_PASSWORD / SECUREFLOW_DEMO_INVESTIGATOR_PASSWORD or are "
        "generated and printed once (also kept in var/demo_logins.txt, mode 600)."
    )

    def handle(self, *args: object, **options: object) -> None:
        logins_file = Path(settings.VAR_DIR) / "demo_logins.txt"
        lines = []
        for username, role, env_name in DEMO_USERS:
            login = demo_user_ensure(
                username=username, role=role, password=os.environ.get(env_name) or None
            )
            if login.password:
                lines.append(f"{role:<13} username: {username:<13} password: {login.password}")
        if lines:
            write_private_file(logins_file, "\n".join(lines) + "\n")
            self.stdout.write("Demo logins (created now):")
            for line in lines:
                self.stdout.write("  " + line)
        elif logins_file.exists():
            self.stdout.write("Demo logins (created earlier):")
            for line in logins_file.read_text().splitlines():
                self.stdout.write("  " + line)
        else:
            self.stdout.write(
                "Demo users exist; their passwords were printed when they were created "
                "(reset one with: python manage.py changepassword <username>)."
            )
