"""Batches: a CSV file or a JSON array of transactions imported, and optionally scored,
in chunks by Celery workers (or in-process by the management commands).

    reading    input files: size limit, encodings, delimiter / decimal, mapping, JSON
    storage    where a batch's files live (input, errors, staged chunks)
    scoring    features against stored history, decisions and explanations for many rows
    persist    bulk storage of scores (COPY on PostgreSQL)
    services   create, prepare, process a chunk, finish, fail, resume
    selectors  reads: a user's batches, result rows
    results    results and error files as CSV
"""
