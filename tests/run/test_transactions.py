"""Transactions of whole clustering blocks: how prepared batches are regrouped, and a transaction that fails midway."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ecb_records, write_jsonl
from reliability import final_state

import pipeline.run.ingest as ingest_module
from pipeline.cluster.candidates import CandidateIndex
from pipeline.errors import ConfigError
from pipeline.models import Rejection
from pipeline.run.ingest import ingest_paths, open_for_run, store_batch
from pipeline.run.prepare import PreparedBatch, blocks, prepare_batch, transactions
from pipeline.settings import ClusterSettings, ExtractSettings, Settings
from pipeline.sources.files import read_paths
from pipeline.store import Store
from pipeline.store.integrity import consistency_problems


def prepared(items: int, rejections: int = 0) -> PreparedBatch:
    """A prepared batch of placeholder items (regrouping never looks inside them) and rejections."""
    return PreparedBatch(
        [(f"article {i}", f"fingerprint {i}") for i in range(items)],  # type: ignore[misc]
        [Rejection(f"bad {i}", "empty", "no text") for i in range(rejections)],
        [None] * rejections,
    )


def sizes(batches: list[PreparedBatch]) -> list[tuple[int, int]]:
    return [(len(b.items), len(b.rejections)) for b in batches]


def test_batches_are_regrouped_into_transactions_of_whole_blocks() -> None:
    stream = [prepared(7, rejections=1) for _ in range(10)]  # 70 documents, 10 rejections
    # batch size 25 rounds up to 3 blocks of 10: 30 documents a transaction, the last one short
    assert sizes(list(transactions(stream, batch_size=25, block_size=10))) == [(30, 5), (30, 4), (10, 1)]
    # a batch size below the block size stores a block a transaction; each rejection goes with the next one
    small = list(transactions(stream, batch_size=3, block_size=10))
    assert [len(b.items) for b in small] == [10] * 7 and sum(len(b.rejections) for b in small) == 10
    assert sizes(small[:2]) == [(10, 2), (10, 1)]
    # the regrouped documents are the same, in the same order
    regrouped = [item for batch in transactions(stream, 25, 10) for item in batch.items]
    assert regrouped == [item for batch in stream for item in batch.items]


def test_a_stream_of_rejections_alone_is_flushed_a_transaction_at_a_time() -> None:
    stream = [prepared(0, rejections=4) for _ in range(5)]
    assert sizes(list(transactions(stream, batch_size=10, block_size=10))) == [(0, 12), (0, 8)]
    assert sizes(list(transactions([], batch_size=10, block_size=10))) == []


def test_a_transaction_is_clustered_block_by_block_with_its_rejections_in_the_first() -> None:
    assert sizes(blocks(prepared(25, rejections=3), block_size=10)) == [(10, 3), (10, 0), (5, 0)]
    assert sizes(blocks(prepared(0, rejections=3), block_size=10)) == [(0, 3)]


def test_a_transaction_that_fails_after_its_first_block_leaves_no_trace_and_its_retry_stores_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index read the first block's uncommitted rows while clustering the second: after the rollback it
    must not keep them, or the retry (a Prefect task's, on the same index) would cluster against rows that
    do not exist."""
    path = write_jsonl(tmp_path / "feed.jsonl", ecb_records({1, 3, 4})[:40])
    settings = Settings(
        db=str(tmp_path / "retried.duckdb"), batch_size=40, extract=ExtractSettings(workers=1),
        cluster=ClusterSettings(block_size=15), reader_gap_seconds=0.0,
    )  # fmt: skip
    batch = prepare_batch(list(read_paths([path], settings.extract.max_bytes)), settings)
    assert len(batch.items) == 40  # one transaction of three blocks
    run_id, index = open_for_run(settings, [str(path)]), CandidateIndex()
    real, calls = ingest_module.assign_batch, []

    def assign_then_fail_in_the_second_block(*args, **kwargs):
        decided = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return decided

    monkeypatch.setattr(ingest_module, "assign_batch", assign_then_fail_in_the_second_block)
    with Store.open(settings.db) as store, pytest.raises(OSError, match="disk full"):
        store_batch(store, index, run_id, batch, settings)
    assert index.max_seq == 0  # what it read of the rolled-back block is gone
    with Store.open(settings.db) as store:
        assert store.max_seq() == 0
        store_batch(store, index, run_id, batch, settings)  # the retry, on the same index
        assert consistency_problems(store) == []

    clean = replace(settings, db=str(tmp_path / "clean.duckdb"))
    ingest_paths([path], clean)
    assert final_state(settings.db) == final_state(clean.db)


@pytest.mark.parametrize("size", [0, -1])
def test_a_block_size_below_one_is_refused(size: int) -> None:
    with pytest.raises(ConfigError, match="block_size"):
        ClusterSettings(block_size=size)
