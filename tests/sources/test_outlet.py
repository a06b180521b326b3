"""Outlet identity: one name per publisher, whatever subdomain, file path or metadata it arrives with."""

from __future__ import annotations

import pytest

from pipeline.models import Article
from pipeline.sources.outlet import input_name, outlet_of, registered_domain


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("edition.cnn.com", "cnn.com"),
        ("WWW.Example.COM.", "example.com"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("a.news.example.invalidtld", "example.invalidtld"),
        ("a.paper.co.zz", "paper.co.zz"),  # unknown country code: the documented fallback keeps co.zz
    ],
)
def test_registered_domain(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


def test_outlet_order_is_source_then_site_name_then_domain_then_input() -> None:
    uri = "file:///data/2021/wire.jsonl#id=7"
    url = "https://news.bbc.co.uk/1"
    assert outlet_of(Article(uri, "t", source=" Reuters ", sitename="BBC", url=url)) == "Reuters"
    assert outlet_of(Article(uri, "t", sitename="BBC News", url=url)) == "BBC News"
    assert outlet_of(Article(uri, "t", sitename="www.bbc.co.uk")) == "bbc.co.uk"
    assert outlet_of(Article(uri, "t", url=url)) == "bbc.co.uk"
    assert outlet_of(Article(uri, "t", canonical_url="https://www.bbc.co.uk/2")) == "bbc.co.uk"
    assert outlet_of(Article(uri, "t", url="not a url")) == "wire.jsonl"
    assert outlet_of(Article("file:///elsewhere/wire.jsonl#line=3", "t")) == "wire.jsonl"
    assert outlet_of(Article("https://feeds.example.com/item/9", "t")) == "example.com"


def test_input_name_drops_the_folder_but_keeps_the_record() -> None:
    assert input_name("file:///a/b/wire.jsonl#id=7") == input_name("file:///c/wire.jsonl#id=7") == "wire.jsonl#id=7"
    assert input_name("file:///a/000%20x.txt") == "000 x.txt"
    assert input_name("https://example.com/news/1") == "https://example.com/news/1"
