import os

from django.core.wsgi import get_wsgi_application

# A deployment that forgets DJANGO_SETTINGS_MODULE gets the production settings (which
# refuse to start without a secret key and hosts), never the debug-mode local ones;
# `make run` (scripts/run.sh) asks for the local settings itself.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secureflow.settings.production")
application = get_wsgi_application()
