"""The TF-IDF baseline on tiny hand-made records: rewrites together, unrelated news apart, the time window."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipeline.baseline import (
    BaselineDocument,
    TfidfCentroidClustering,
    cluster_documents,
    document_from_record,
    terms,
)
from pipeline.errors import ConfigError

QUAKE = [
    BaselineDocument(
        "Strong earthquake shakes central Chile",
        "A magnitude 7.1 earthquake struck central Chile on Tuesday, damaging buildings in Valparaiso "
        "and cutting power to thousands of homes, the national emergency office said.",
    ),
    BaselineDocument(
        "Magnitude 7.1 earthquake hits central Chile",
        "An earthquake of magnitude 7.1 hit central Chile, damaging buildings in Valparaiso and leaving "
        "thousands of homes without power, according to the emergency office.",
    ),
    BaselineDocument(
        "Chile earthquake damages buildings in Valparaiso",
        "Buildings in Valparaiso were damaged when a 7.1 magnitude earthquake struck central Chile; "
        "power was cut to thousands of homes, the emergency office reported.",
    ),
]
RATES = [
    BaselineDocument(
        "Central bank raises interest rates to fight inflation",
        "The central bank raised its benchmark interest rate by half a point to 4.5 percent, its "
        "steepest increase in a decade, as inflation hit a 40-year high.",
    ),
    BaselineDocument(
        "Bank lifts benchmark rate by half a point as inflation soars",
        "Inflation at a 40-year high pushed the central bank to lift its benchmark interest rate by "
        "half a point, to 4.5 percent, the steepest increase in a decade.",
    ),
]
UNRELATED = [
    BaselineDocument(
        "Marathon record falls in Berlin",
        "A Kenyan runner broke the marathon world record on the flat Berlin course on Sunday morning.",
    ),
    BaselineDocument(
        "Museum returns stolen painting",
        "A museum in Amsterdam got back a Van Gogh painting stolen from its storage rooms in 2020.",
    ),
]


def test_rewrites_group_and_unrelated_texts_stay_apart() -> None:
    docs = [QUAKE[0], RATES[0], UNRELATED[0], QUAKE[1], RATES[1], UNRELATED[1], QUAKE[2]]
    labels = cluster_documents(docs)
    quake, rates = labels[0], labels[1]
    assert [labels[i] for i in (0, 3, 6)] == [quake] * 3
    assert [labels[i] for i in (1, 4)] == [rates] * 2
    assert len({quake, rates, labels[2], labels[5]}) == 4


def test_clusters_are_numbered_in_order_of_creation() -> None:
    assert cluster_documents([UNRELATED[0], QUAKE[0], QUAKE[1], UNRELATED[1]]) == [0, 1, 1, 2]


def dated(document: BaselineDocument, day: int) -> BaselineDocument:
    return BaselineDocument(document.title, document.text, date(2021, 4, 1) + timedelta(days=day))


def test_a_rewrite_outside_the_window_founds_a_new_cluster() -> None:
    first, late = dated(QUAKE[0], 0), dated(QUAKE[1], 20)
    assert cluster_documents([first, late], window_days=7) == [0, 1]
    assert cluster_documents([first, late], window_days=None) == [0, 0]
    assert cluster_documents([first, dated(QUAKE[1], 7)], window_days=7) == [0, 0]


def test_the_window_is_measured_from_any_member() -> None:
    # members on days 0 and 6: day 12 is within 7 days of day 6, not of day 0
    docs = [dated(QUAKE[0], 0), dated(QUAKE[1], 6), dated(QUAKE[2], 12)]
    assert cluster_documents(docs, window_days=7) == [0, 0, 0]


def test_undated_documents_ignore_the_window() -> None:
    docs = [dated(QUAKE[0], 0), QUAKE[1], dated(QUAKE[2], 3)]
    assert cluster_documents(docs, window_days=7) == [0, 0, 0]


def test_ties_go_to_the_cluster_created_first() -> None:
    # the same text on days 0 and 30 founds two clusters with equal centroids; day 15 is in both windows
    docs = [dated(QUAKE[0], 0), dated(QUAKE[0], 30), dated(QUAKE[0], 15)]
    assert cluster_documents(docs, window_days=15) == [0, 1, 0]


def test_same_order_same_clustering() -> None:
    docs = [*QUAKE, *RATES, *UNRELATED] * 3
    assert cluster_documents(docs) == cluster_documents(docs)


def test_threshold_decides_how_alike_is_alike() -> None:
    docs = [QUAKE[0], QUAKE[1]]
    assert cluster_documents(docs, threshold=0.1) == [0, 0]
    assert cluster_documents(docs, threshold=1.0) == [0, 1]


@pytest.mark.parametrize(("threshold", "window_days"), [(0.0, 7), (1.5, 7), (0.3, -1)])
def test_bad_parameters_are_named(threshold: float, window_days: int) -> None:
    with pytest.raises(ConfigError, match=str(window_days if threshold == 0.3 else threshold)):
        TfidfCentroidClustering(threshold, window_days)


def test_terms_drop_stop_words_before_pairing() -> None:
    counts = terms("The bank of England raised the rate")
    assert counts == {"bank": 1, "england": 1, "raised": 1, "rate": 1, "bank england": 1, "england raised": 1,
                      "raised rate": 1}  # fmt: skip


def test_records_without_title_or_text_cannot_be_read() -> None:
    assert document_from_record({"id": "1", "html": "<p>words</p>"}) is None
    record = {"id": "2", "title": "Quake", "html": "<p>x</p>", "published_at": "2021-04-20T10:00:00Z"}
    assert document_from_record(record) == BaselineDocument("Quake", "", date(2021, 4, 20))
