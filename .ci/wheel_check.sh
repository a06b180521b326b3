#!/usr/bin/env bash
# CI: install the built wheel the way a user does (python3.11 -m venv, its bundled pip, not upgraded) and
# extract a real page with the installed command. `make test` runs in an editable install made with an
# upgraded pip, so it cannot see a dependency that only an old pip drops (lxml[html_clean] under pip 23.2).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Build from a copy of the tracked and new files: an in-tree build/ directory can carry stale modules.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$work/src"
"$PYTHON" -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src"

"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$work"/dist/storyline-*.whl

page=tests/fixtures/live/site/news/story-1.html
"$work/venv/bin/python" -c 'import json, sys; print(json.dumps({"id": "story-1", "html": open(sys.argv[1]).read()}))' \
    "$page" | "$work/venv/bin/storyline" extract >"$work/out.jsonl"
"$work/venv/bin/python" - "$work/out.jsonl" <<'PY'
import json, sys

records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert len(records) == 1 and records[0]["text"].strip(), f"the installed wheel extracted no text: {records}"
print(f"wheel check: extracted {len(records[0]['text'].split())} words from the installed wheel")
PY
