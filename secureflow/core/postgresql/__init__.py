"""SecureFlow's PostgreSQL database backend (see base.py)."""
