"""Writes for batches: create, prepare, process a chunk, finish, fail, resume.

The life of a batch (the Celery tasks in transactions/tasks.py and the management
commands call these; nothing else writes a batch):

1. `import_batch_create` stores the input under the batch's folder (after the size limit
   and a header check) and, unless told otherwise, queues `run_import_batch`.
2. `import_batch_prepare` (once) reads every row: rejected rows go to the error file,
   rows whose id is already stored for the same transaction (account, amount, time) count
   as duplicates, rows whose id is stored for another one are rejected (a conflict), the
   customers, accounts and
   counterparties of the good rows are created, their features are computed against the
   stored history (score mode), and the rows are cut into chunks staged on disk.
3. `import_chunk_process` imports (and scores) one chunk in one database transaction
   and marks it done in the same transaction, so a chunk is either wholly stored or not
   at all: a worker killed mid-chunk leaves nothing behind, and a chunk delivered twice
   is skipped the second time. Every imported transaction gets exactly one score.
4. `import_batch_finish` closes the batch when its last chunk is done.

Counts: rows_total = rows_imported + rows_duplicate + rows_rejected when done.
"""

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from detection.models import TransactionScore
from detection.scoring.loader import get_engine
from detection.scoring.service import STATUS_FOR_OUTCOME
from detection.signals import scores_stored_in_bulk
from transactions.batches import storage
from transactions.batches.persist import store_scores, store_transactions
from transactions.batches.reading import (
    BatchInputError,
    check_csv_head,
    check_json_records,
    check_size,
    parse_json_records,
    read_batch_input,
)
from transactions.batches.results import error_summary, write_error_file
from transactions.batches.scoring import (
    attach_entity_attributes,
    decide_rows,
    features_against_history,
)
from transactions.bulk_load import ensure_entities, key_ids
from transactions.choices import BatchFormat, BatchMode, BatchSource, BatchStatus, ChunkStatus
from transactions.csv_reader import CsvFormatError, RowError
from transactions.csv_schema import ColumnMapping, MappingError
from transactions.models import ImportBatch, ImportBatchChunk, Transaction

logger = logging.getLogger(__name__)

COPY_BLOCK = 1024 * 1024
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ChunkResult:
    chunk_id: int
    rows: int
    imported: int
    duplicates: int
    scored: int
    flagged: int
    skipped: bool = False  # already done (delivered twice)


def _chunk_size(value: int | None) -> int:
    size = int(value or settings.SECUREFLOW_BATCH_CHUNK_ROWS)
    if size < 1:
        raise ValueError("the chunk size must be at least 1")
    return size


def _write_input(target: Path, content: bytes | str | Path | IO[bytes]) -> int:
    """Store the input as received; returns its size in bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    if isinstance(content, bytes):
        tmp.write_bytes(content)
    elif isinstance(content, str | Path):
        shutil.copyfile(content, tmp)
    else:
        if hasattr(content, "seek"):
            content.seek(0)
        with open(tmp, "wb") as out:
            chunks = content.chunks(COPY_BLOCK) if hasattr(content, "chunks") else None
            if chunks is None:
                while block := content.read(COPY_BLOCK):
                    out.write(block)
            else:
                for block in chunks:
                    out.write(block)
    tmp.replace(target)
    return target.stat().st_size


def _content_size(content: bytes | str | Path | IO[bytes]) -> int:
    if isinstance(content, bytes):
        return len(content)
    if isinstance(content, str | Path):
        return Path(content).stat().st_size
    size = getattr(content, "size", None)
    if size is None:
        position = content.tell()
        content.seek(0, 2)
        size = content.tell()
        content.seek(position)
    return int(size)


def _content_head(content: bytes | str | Path | IO[bytes], size: int) -> bytes:
    if isinstance(content, bytes):
        return content[:size]
    if isinstance(content, str | Path):
        with open(content, "rb") as handle:
            return handle.read(size)
    content.seek(0)
    head = content.read(size)
    content.seek(0)
    return head


def _check_input(
    content: bytes | str | Path | IO[bytes],
    input_format: str,
    mapping: ColumnMapping,
    *,
    limit_size: bool,
) -> None:
    size = _content_size(content)
    if limit_size:
        check_size(size)
    if size == 0:
        raise BatchInputError("The file is empty.")
    if input_format == BatchFormat.JSON:
        raw = content if isinstance(content, bytes) else _content_head(content, size)
        check_json_records(parse_json_records(raw), mapping)
    else:
        check_csv_head(_content_head(content, 64 * 1024), mapping)


def import_batch_create(
    *,
    owner: AbstractBaseUser | None,
    source: str,
    content: bytes | str | Path | IO[bytes],
    input_format: str = BatchFormat.CSV,
    original_filename: str = "",
    mapping: ColumnMapping | None = None,
    mapping_name: str = "",
    mode: str = BatchMode.SCORE,
    chunk_size: int | None = None,
    limit_size: bool | None = None,
    enqueue: bool = True,
) -> ImportBatch:
    """Store the input of a new batch and queue it.

    `content` is the file (bytes, a path, or an open/uploaded file). The size limit
    (SECUREFLOW_MAX_UPLOAD_MB) applies to uploads and API bodies (by default to every
    source but the command line). Raises BatchInputError (with the request field at fault)
    when the input is refused: too large, empty, not JSON, or without a required column.
    With `enqueue`, the Celery task starts once the batch is committed."""
    mapping = mapping or ColumnMapping()
    if input_format not in BatchFormat.values:
        raise BatchInputError(f"Unknown input format {input_format!r}.", field="format")
    if mode not in BatchMode.values:
        raise BatchInputError(
            f"Unknown mode {mode!r}; expected one of {', '.join(BatchMode.values)}.",
            field="mode",
        )
    if limit_size is None:
        limit_size = source != BatchSource.CLI
    _check_input(content, input_format, mapping, limit_size=limit_size)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            owner=owner if owner is not None and owner.is_authenticated else None,
            source=source,
            input_format=input_format,
            mode=mode,
            original_filename=(original_filename or "")[:255],
            mapping_name=mapping_name,
            mapping=mapping.to_dict(),
            chunk_size=_chunk_size(chunk_size),
            input_path="",
        )
        folder = storage.batch_dir(batch.pk)
        try:
            target = folder / f"input.{input_format}"
            batch.input_bytes = _write_input(target, content)
        except OSError:
            storage.remove_tree(folder)
            raise
        batch.input_path = str(target)
        batch.save(update_fields=["input_path", "input_bytes", "updated_at"])
        if enqueue:
            from transactions.tasks import run_import_batch

            batch_id = batch.pk
            transaction.on_commit(lambda: run_import_batch.delay(batch_id))
    return batch


def _mapping_of(batch: ImportBatch) -> ColumnMapping:
    from transactions.csv_schema import mapping_from_dict

    return mapping_from_dict(batch.mapping or {})


def _sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Good rows in time order (file order breaks ties), as they are imported and scored."""
    order = np.lexsort((frame["line"].to_numpy(), frame["timestamp"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def _first_rows(keys: pd.Series, where: np.ndarray | None = None) -> np.ndarray:
    """Positions of the first row of each key (among the rows `where` holds)."""
    positions = np.arange(len(keys)) if where is None else np.flatnonzero(where)
    subset = keys.iloc[positions]
    return positions[~subset.duplicated().to_numpy()]


def _entity_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that decide what ensure_entities creates (time-ordered, clean rows): the
    first of each account (its owner, currency, first time), the first home country given
    for each customer, the first row and the first country of each counterparty."""
    home = rows["home_country"].to_numpy(dtype=object) != ""
    counterparty = rows["counterparty"].to_numpy(dtype=object) != ""
    with_country = counterparty & (rows["counterparty_country"].to_numpy(dtype=object) != "")
    keep = np.zeros(len(rows), dtype=bool)
    keep[_first_rows(rows["account"])] = True
    keep[_first_rows(rows["customer"], home)] = True
    keep[_first_rows(rows["counterparty"], counterparty)] = True
    keep[_first_rows(rows["counterparty"], with_country)] = True
    return rows.loc[keep]


CONFLICT_LOOKUP_IDS = 10_000  # stored transactions read per query when comparing


def _conflicts_with_stored(rows: pd.DataFrame, duplicate: np.ndarray) -> list[RowError]:
    """The rows whose id is already stored for a transaction with another account, amount
    or time (a re-import of the same export is a duplicate; the same id for another
    transaction is a conflict, as the real-time API's 409)."""
    if not duplicate.any():
        return []
    candidates = rows.loc[duplicate, ["id", "account", "amount", "timestamp", "line"]]
    found: list[tuple] = []
    ids = candidates["id"].tolist()
    for first in range(0, len(ids), CONFLICT_LOOKUP_IDS):
        found.extend(
            Transaction.objects.filter(
                external_id__in=ids[first : first + CONFLICT_LOOKUP_IDS]
            ).values_list("external_id", "account__number", "amount", "occurred_at")
        )
    stored = pd.DataFrame(found, columns=["id", "stored_account", "stored_amount", "stored_at"])
    both = candidates.merge(stored, on="id", how="inner")
    if both.empty:
        return []
    cents = np.rint(both["amount"].to_numpy(dtype=float) * 100).astype(np.int64)
    stored_cents = np.array([int(amount * 100) for amount in both["stored_amount"]], np.int64)
    stored_at = pd.to_datetime(both["stored_at"], utc=True).to_numpy(dtype="datetime64[us]")
    rows_at = both["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    differs = {
        "account": both["account"].to_numpy(dtype=object) != both["stored_account"].to_numpy(),
        "amount": cents != stored_cents,
        "timestamp": rows_at.to_numpy(dtype="datetime64[us]") != stored_at,
    }
    errors = []
    for i in np.flatnonzero(np.logical_or.reduce(list(differs.values()))).tolist():
        names = ", ".join(name for name, mask in differs.items() if mask[i])
        errors.append(
            RowError(
                int(both["line"].iat[i]),
                "id",
                f"is already stored for another transaction ({names} differ): give this "
                "transaction its own id",
                str(both["id"].iat[i]),
            )
        )
    return errors


def import_batch_prepare(*, batch_id: int, progress: Progress | None = None) -> bool:
    """Read, check and stage the batch's rows (see the module doc). Returns False when
    the batch was already prepared (or finished) by someone else, or could not be read
    (it is then failed with the reason)."""
    say = progress or (lambda message: None)
    batch = ImportBatch.objects.get(pk=batch_id)
    if batch.prepared_at is not None or batch.is_finished:
        return False
    now = timezone.now()
    ImportBatch.objects.filter(pk=batch_id, status=BatchStatus.QUEUED).update(
        status=BatchStatus.RUNNING, started_at=now, updated_at=now
    )
    timings: dict[str, float] = {}
    started = time.perf_counter()

    say("reading and checking the rows")
    try:
        parsed = read_batch_input(batch.input_path, batch.input_format, _mapping_of(batch))
    except (CsvFormatError, OSError) as exc:
        import_batch_fail(batch_id=batch_id, message=f"The file cannot be imported: {exc}")
        return False
    except MappingError as exc:  # a mapping stored before its options were all checked
        import_batch_fail(batch_id=batch_id, message=f"The mapping cannot be used: {exc}")
        return False
    rows = _sorted_rows(parsed.frame)
    stored = key_ids(Transaction, "external_id", rows["id"].tolist())
    duplicate = rows["id"].isin(stored).to_numpy()
    conflicts = _conflicts_with_stored(rows, duplicate)
    if conflicts:
        # an id already stored for another transaction: rejected with the reason, never
        # counted as a harmless re-import
        parsed.errors.extend(conflicts)
        parsed.errors.sort(key=lambda error: error.line)
        conflicting = rows["line"].isin({error.line for error in conflicts}).to_numpy()
        duplicate = duplicate & ~conflicting
        rows = rows.loc[~conflicting].reset_index(drop=True)
        duplicate = duplicate[~conflicting]
    rejected = parsed.rejected + len(conflicts)
    folder = Path(batch.input_path).parent
    errors_path = folder / "errors.csv"
    write_error_file(errors_path, parsed.errors)
    timings["read_seconds"] = time.perf_counter() - started

    t0 = time.perf_counter()
    rows = rows.loc[~duplicate].reset_index(drop=True)
    if len(rows):
        entities = ensure_entities(_entity_rows(rows))
        # the chunks insert their transactions without looking their entities up again
        rows["account_id"] = rows["account"].map(entities.account_ids).astype(np.int64)
        rows["counterparty_id"] = (
            rows["counterparty"].map(entities.counterparty_ids).astype("Int64")
        )
    timings["entities_seconds"] = time.perf_counter() - t0

    X = None
    if batch.mode == BatchMode.SCORE and len(rows):
        say(f"features for {len(rows):,} rows against the stored history")
        t0 = time.perf_counter()
        rows = attach_entity_attributes(rows)
        X = features_against_history(rows)
        timings["features_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage = folder / f"stage-{uuid.uuid4().hex[:12]}"
    size = batch.chunk_size
    chunks = []
    for index, first in enumerate(range(0, len(rows), size)):
        part = rows.iloc[first : first + size].reset_index(drop=True)
        storage.write_stage_chunk(
            stage, index, part, None if X is None else X[first : first + size]
        )
        chunks.append(
            ImportBatchChunk(batch_id=batch_id, index=index, first_row=first, row_count=len(part))
        )
    timings["stage_seconds"] = time.perf_counter() - t0

    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
        if batch.prepared_at is not None or batch.is_finished:
            storage.remove_tree(stage)
            return False
        ImportBatchChunk.objects.bulk_create(chunks)
        duplicates = int(duplicate.sum())
        batch.rows_total = parsed.received
        batch.rows_rejected = rejected
        batch.rows_duplicate = duplicates
        batch.rows_done = rejected + duplicates
        batch.chunks_total = len(chunks)
        batch.errors_path = str(errors_path)
        batch.error_summary = error_summary(parsed.errors)
        batch.stage_path = str(stage)
        batch.prepared_at = timezone.now()
        batch.timings = {**batch.timings, **{k: round(v, 3) for k, v in timings.items()}}
        batch.save()
    if not chunks:
        import_batch_finish(batch_id=batch_id)
    return True


def _chunk_rows(batch: ImportBatch, chunk: ImportBatchChunk) -> tuple[pd.DataFrame, Any]:
    return storage.read_stage_chunk(Path(batch.stage_path), chunk.index)


def import_chunk_process(*, chunk_id: int) -> ChunkResult:
    """Import (and score) one chunk in one database transaction, then close the batch if
    it was the last one. A chunk already done is skipped."""
    with transaction.atomic():
        chunk = (
            # Lock the chunk row only: chunks of the same batch run at the same time.
            ImportBatchChunk.objects.select_for_update(of=("self",))
            .select_related("batch")
            .get(pk=chunk_id)
        )
        batch = chunk.batch
        if chunk.status == ChunkStatus.DONE or batch.status != BatchStatus.RUNNING:
            return ChunkResult(chunk_id, chunk.row_count, 0, 0, 0, 0, skipped=True)
        result = _process_chunk(batch, chunk)
    import_batch_finish(batch_id=batch.pk)
    return result


def _process_chunk(batch: ImportBatch, chunk: ImportBatchChunk) -> ChunkResult:
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        # The chunk commits without waiting for the WAL flush: a database crash can lose
        # the last chunks committed (never part of one); they are then not marked done
        # and are imported again when the batch is resumed.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rows, X = _chunk_rows(batch, chunk)
    timings["chunk_read_seconds"] = time.perf_counter() - t0

    scored = None
    if batch.mode == BatchMode.SCORE:
        t0 = time.perf_counter()
        scored = decide_rows(
            get_engine(), X, rows, shap_rows=int(settings.SECUREFLOW_BATCH_SHAP_ROWS)
        )
        rows["status"] = [STATUS_FOR_OUTCOME[o] for o in scored.outcome]
        timings["decide_seconds"] = time.perf_counter() - t0

    # Rows were checked for stored ids when the batch was prepared: copy them straight in
    # (an id stored since then is skipped, and is not this batch's: a duplicate).
    t0 = time.perf_counter()
    positions, txn_ids = store_transactions(rows=rows, batch_id=batch.pk)
    inserted = len(positions)
    timings["import_seconds"] = time.perf_counter() - t0

    n_scored = n_flagged = 0
    if scored is not None and inserted:
        t0 = time.perf_counter()
        flagged = store_scores(
            transaction_ids=txn_ids,
            scored=scored,
            rows=positions,
            X=X,
            latency_ms=1000 * timings["decide_seconds"] / max(len(rows), 1),
            timings=timings,
        )
        n_scored = len(positions)
        n_flagged = len(flagged)
        timings["store_scores_seconds"] = time.perf_counter() - t0
        if flagged:
            t0 = time.perf_counter()
            scores_stored_in_bulk.send(sender=TransactionScore, score_ids=list(flagged.values()))
            timings["flagged_receivers_seconds"] = time.perf_counter() - t0

    if connection.vendor == "postgresql":
        # Check the deferred foreign keys of the rows stored now, before the batch row is
        # updated below: other chunks wait for that row only while this one commits.
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        timings["constraints_seconds"] = time.perf_counter() - t0
    duplicates = chunk.row_count - inserted
    chunk.status = ChunkStatus.DONE
    chunk.rows_imported = inserted
    chunk.rows_duplicate = duplicates
    chunk.rows_scored = n_scored
    chunk.rows_flagged = n_flagged
    timings["chunk_seconds"] = time.perf_counter() - started
    chunk.timings = {k: round(v, 4) for k, v in timings.items()}
    chunk.finished_at = timezone.now()
    chunk.save()
    ImportBatch.objects.filter(pk=batch.pk).update(
        rows_done=F("rows_done") + chunk.row_count,
        rows_imported=F("rows_imported") + inserted,
        rows_duplicate=F("rows_duplicate") + duplicates,
        rows_scored=F("rows_scored") + n_scored,
        rows_flagged=F("rows_flagged") + n_flagged,
        chunks_done=F("chunks_done") + 1,
        updated_at=timezone.now(),
    )
    return ChunkResult(chunk.pk, chunk.row_count, inserted, duplicates, n_scored, n_flagged)


def import_batch_finish(*, batch_id: int) -> bool:
    """Close a running batch whose chunks are all done: status done, timings summed, the
    staged chunks removed. Returns whether this call closed it."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status != BatchStatus.RUNNING or batch.prepared_at is None:
            return False
        if batch.chunks.exclude(status=ChunkStatus.DONE).exists():
            return False
        totals: dict[str, float] = {}
        for timings in batch.chunks.values_list("timings", flat=True):
            for key, value in (timings or {}).items():
                totals[key] = totals.get(key, 0.0) + float(value)
        batch.timings = {**batch.timings, **{k: round(v, 3) for k, v in totals.items()}}
        batch.status = BatchStatus.DONE
        batch.finished_at = timezone.now()
        if batch.rows_total != batch.rows_imported + batch.rows_duplicate + batch.rows_rejected:
            logger.error(
                "Batch %s counts do not add up: total %s, imported %s, duplicate %s, rejected %s",
                batch.pk,
                batch.rows_total,
                batch.rows_imported,
                batch.rows_duplicate,
                batch.rows_rejected,
            )
        batch.rows_done = batch.rows_total
        batch.save()
        stage = batch.stage_path
        transaction.on_commit(lambda: storage.remove_tree(stage))
    return True


@transaction.atomic
def import_batch_fail(*, batch_id: int, message: str) -> ImportBatch:
    """Stop a batch for good with the reason (chunks already stored stay stored)."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
    if batch.status == BatchStatus.DONE:
        return batch
    batch.status = BatchStatus.FAILED
    batch.error_message = message[:4000]
    batch.finished_at = timezone.now()
    batch.save(update_fields=["status", "error_message", "finished_at", "updated_at"])
    return batch


def import_batch_dispatch(*, batch_id: int) -> list[int]:
    """Prepare the batch if needed, then queue a task for each chunk not done yet (a chunk
    queued twice is processed once). Returns the queued chunk ids."""
    from transactions.tasks import process_import_chunk

    import_batch_prepare(batch_id=batch_id)
    pending = list(
        ImportBatchChunk.objects.filter(
            batch_id=batch_id,
            batch__status=BatchStatus.RUNNING,
            status=ChunkStatus.PENDING,
        )
        .order_by("index")
        .values_list("id", flat=True)
    )
    for chunk_id in pending:
        transaction.on_commit(lambda chunk_id=chunk_id: process_import_chunk.delay(chunk_id))
    if not pending:
        import_batch_finish(batch_id=batch_id)
    return pending


def import_batches_resume(*, stalled_for: timedelta | None = None) -> list[int]:
    """Queue every unfinished batch again: all of them when a worker starts (another one
    may have died holding a chunk), or those without progress for `stalled_for` (a lost
    message). A chunk queued twice is processed once."""
    from transactions.tasks import run_import_batch

    unfinished = ImportBatch.objects.filter(status__in=[BatchStatus.QUEUED, BatchStatus.RUNNING])
    if stalled_for is not None:
        unfinished = unfinished.filter(updated_at__lt=timezone.now() - stalled_for)
    ids = list(unfinished.order_by("id").values_list("id", flat=True))
    for batch_id in ids:
        transaction.on_commit(lambda batch_id=batch_id: run_import_batch.delay(batch_id))
    return ids


def _chunk_in_worker_process(chunk_id: int) -> None:
    import_chunk_process(chunk_id=chunk_id)


def _run_chunks_in_processes(
    chunk_ids: list[int], workers: int, say: Progress, *, scores: bool
) -> None:
    """Process the chunks in `workers` forked processes, each with its own database
    connection, as that many Celery (prefork) workers would. When the batch is scored, the
    scoring engine is loaded and warmed up first: the processes inherit it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from detection.scoring.service import scoring_warm_up

    if scores:
        scoring_warm_up()
    connections.close_all()  # never share a connection with the forked processes
    context = multiprocessing.get_context("fork")
    total = len(chunk_ids)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for number, _ in enumerate(pool.map(_chunk_in_worker_process, chunk_ids), start=1):
            say(f"chunk {number}/{total} done")


def import_batch_run(
    *, batch_id: int, progress: Progress | None = None, workers: int = 1
) -> ImportBatch:
    """Run a whole batch in this process (the management commands), with the services the
    workers run. `workers` > 1 processes that many chunks at once, each in its own process
    and database connection, as that many Celery workers would (PostgreSQL only; SQLite
    takes one writer at a time)."""
    say = progress or (lambda message: None)
    import_batch_prepare(batch_id=batch_id, progress=say)
    chunk_ids = list(
        ImportBatchChunk.objects.filter(batch_id=batch_id, status=ChunkStatus.PENDING)
        .order_by("index")
        .values_list("id", flat=True)
    )
    total = len(chunk_ids)
    if workers > 1 and connection.vendor == "postgresql" and total > 1:
        scores = ImportBatch.objects.get(pk=batch_id).mode == BatchMode.SCORE
        _run_chunks_in_processes(chunk_ids, min(workers, total), say, scores=scores)
    else:
        for number, chunk_id in enumerate(chunk_ids, start=1):
            import_chunk_process(chunk_id=chunk_id)
            say(f"chunk {number}/{total} done")
    import_batch_finish(batch_id=batch_id)
    return ImportBatch.objects.get(pk=batch_id)
