"""Data-quality expectations on landed partner records (Great Expectations suite and runner)."""

#: Asset the validation DAG emits after each run; the hit-list DAG is scheduled on it. Kept
#: here, away from the runner, so DAG files can import it without loading pandas or GX.
RECORDS_VALIDATED_URI = "riec://records/validated"
