"""URLs: one canonical spelling per page, so a page linked three ways is fetched and stored once."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["TRACKING_PARAMETERS", "canonical_url", "is_web_url"]

# Parameters that only say where a click came from; the page is the same without them.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "wt_mc",
        "ocid", "cmpid", "ncid", "sr_share", "spm", "__twitter_impression",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are in a path (RFC 3986 unreserved plus sub-delims, ':', '@' and '/').
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def is_web_url(url: str) -> bool:
    """True for an absolute http or https URL with a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in DEFAULT_PORTS and bool(parts.hostname)


def canonical_url(url: str) -> str:
    """The canonical form of an http(s) URL: lower-case scheme and host, no default port, no fragment,
    no tracking parameters, sorted query, ``/`` for an empty path. Raises ValueError for other URLs."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.rstrip(".")  # urlsplit lower-cases it already
    host = host.encode("idna").decode("ascii") if not host.isascii() else host
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port  # raises ValueError for a bad port, which callers report
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        raise ValueError(f"URLs with credentials are not fetched: {url!r}")
    path = quote(parts.path, safe=_PATH_SAFE) or "/"  # existing escapes kept: %2F is not /
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query), doseq=True), ""))


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)
