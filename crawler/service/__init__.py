"""``crawler serve``: a long-lived service that runs scheduled crawl jobs as child processes,
keeps their runs in a SQLite database and answers an HTTP API (see ``docs/service.md``)."""
