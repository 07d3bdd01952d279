"""The extraction-bound ceiling of a crawl with ``--extract``: the same engine extracting the
same pages (read from the bench site's files) in the same number of worker processes, with no
crawling at all. Prints JSON: pages, seconds, pages/s.

    python bench/extract_ceiling.py SITE_DIR PROCESSES FIELDS ENGINE
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.parse.charsets import decode_html
from crawler.parse.extract import extract_page
from crawler.settings import extract_fields


def _one(job: tuple[bytes, str, tuple[str, ...], str]) -> int:
    body, url, fields, engine = job
    extract_page(decode_html(body, None), url, fields, engine)
    return 1


def main() -> None:
    root, processes, fields, engine = Path(sys.argv[1]), int(sys.argv[2]), extract_fields([sys.argv[3]]), sys.argv[4]
    files = sorted(root.rglob("*.html"))
    jobs = [(f.read_bytes(), "http://127.0.0.1/" + str(f.relative_to(root)), fields, engine) for f in files]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_one, jobs[:processes * 4]))  # the workers up and their imports done, as in a crawl
        started = time.perf_counter()
        done = sum(pool.map(_one, jobs, chunksize=16))
        seconds = time.perf_counter() - started
    print(json.dumps({"pages": done, "seconds": seconds, "pages_per_s": done / seconds}))


if __name__ == "__main__":
    main()
