"""Reading settings from the environment, values taken as they are.

django-environ reads a value that starts with `$` as the name of another variable
(`DJANGO_SECRET_KEY=$HOME` would make the home directory the secret key) and fails when no
variable has that name. Secrets are random strings that may start with `$` (Django's own
`get_random_secret_key` alphabet has it), so SecureFlow takes every value literally.
"""

from typing import Any

import environ


class Env(environ.Env):
    def get_value(
        self,
        var_name: str,
        cast: Any = None,
        default: Any = environ.Env.NOTSET,
        parse_default: bool = False,
    ) -> Any:
        value = self.ENVIRON.get(var_name)
        if isinstance(value, str) and value.startswith("$"):
            return value if cast is None else self.parse_value(value, cast)
        return super().get_value(var_name, cast=cast, default=default, parse_default=parse_default)
