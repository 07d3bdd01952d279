"""The command line's options: one for each setting (its help is the setting's comment in
``settings/defaults.toml``), and the settings they make, layered over the config file and the
environment. Shared by every command (crawl, demo, config, seed, status)."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
from typing import Any, NoReturn

from crawler._version import __version__
from crawler.cli.spiders import settings_and_sources
from crawler.errors import EXIT_OK, EXIT_USAGE, UsageError
from crawler.settings import EXTRACT_ENGINES, Settings, default_values, setting_help
from crawler.settings.checks import MARKDOWN_LINKS
from crawler.settings.masking import masked
from crawler.settings.units import SIZES, format_size
from crawler.timestamps import LOG_TIMES

DEMO_OUTPUT = "demo.jsonl"


#: Options of curl and wget that mean something here under another name: what to say instead.
OTHER_TOOLS_OPTIONS = {
    "--http2": "HTTP/2 is --http-client curl (the default client speaks HTTP/1.1)",
    "--http2-prior-knowledge": "HTTP/2 is --http-client curl (over TLS only)",
    "--cert": "a client certificate is --client-cert FILE (and --client-key FILE)",
    "--key": "a client certificate's key is --client-key FILE",
}


class Parser(argparse.ArgumentParser):
    """argparse, with no abbreviated options (``--seed`` is not ``--seeds``) and errors in one
    line that suggest the option meant."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """One line, no usage block: ``crawler: error: ...``, exit 2."""
        self.exit(EXIT_USAGE, f"crawler: error: {message}{self._hint(message)}\n")

    def _hint(self, message: str) -> str:
        """``; did you mean --seeds?`` for the first unknown option of ``message``."""
        if "unrecognized arguments:" not in message:
            return ""
        known = list(self._option_string_actions)
        for word in message.split("unrecognized arguments:", 1)[1].split():
            if word.split("=", 1)[0] in OTHER_TOOLS_OPTIONS:
                return f"; {OTHER_TOOLS_OPTIONS[word.split('=', 1)[0]]}"
            if word.startswith("-"):
                close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


# (group, flags, extra argparse arguments) of each option that sets a setting; its help is the
# setting's comment in defaults.toml, its default read from there.
_OPTIONS: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
    ("spider", ("--spider",), {"metavar": "MODULE:CLASS"}),
    ("spider", ("-a", "--spider-arg"), {"metavar": "NAME=VALUE", "action": "append"}),
    ("spider", ("--max-callback-errors",), {"metavar": "N"}),
    ("spider", ("--http-cache",), {"metavar": "DIR"}),
    ("spider", ("--http-cache-expiry",), {"metavar": "DURATION"}),
    ("output", ("-o", "--output"), {"metavar": "PATH"}),
    ("output", ("--format",), {"choices": ["jsonl", "csv", "warc", "markdown"]}),
    ("output", ("--markdown-links",), {"choices": list(MARKDOWN_LINKS)}),
    ("output", ("--rotate-size",), {"metavar": "SIZE"}),
    ("output", ("--rotate-records",), {"metavar": "N"}),
    ("output", ("--store-bodies",), {"metavar": "DIR"}),
    ("extraction", ("--extract",), {"metavar": "FIELDS", "action": "append"}),
    ("extraction", ("--extract-engine",), {"choices": list(EXTRACT_ENGINES)}),
    ("extraction", ("--extract-processes",), {"metavar": "N"}),
    ("rendering", ("--render",), {"choices": ["never", "auto", "always"]}),
    ("rendering", ("--browser",), {"metavar": "PATH"}),
    ("rendering", ("--render-concurrency",), {"metavar": "N"}),
    ("rendering", ("--render-timeout",), {"metavar": "SECONDS"}),
    ("rendering", ("--render-block",), {"metavar": "KINDS", "action": "append"}),
    ("monitoring", ("--stats",), {"metavar": "FILE"}),
    ("monitoring", ("--report",), {"metavar": "FILE.html"}),
    ("monitoring", ("--log-level",), {"metavar": "LEVEL"}),
    ("monitoring", ("--log-format",), {"choices": ["text", "json"]}),
    ("monitoring", ("--log-time",), {"choices": list(LOG_TIMES)}),
    ("monitoring", ("--metrics-port",), {"metavar": "PORT"}),
    ("monitoring", ("--stats-interval",), {"metavar": "SECONDS"}),
    ("monitoring", ("--expect",), {"metavar": "CHECK=VALUE", "action": "append"}),
    ("monitoring", ("--notify",), {"metavar": "URL", "action": "append"}),
    ("monitoring", ("--notify-on",), {"choices": ["always", "failure", "changes"]}),
    ("parsing", ("--parse-isolation",), {"choices": ["thread", "process"]}),
    ("scheduling", ("--concurrency",), {"metavar": "N"}),
    ("scheduling", ("--per-host",), {"metavar": "N"}),
    ("scheduling", ("--delay",), {"metavar": "SECONDS"}),
    ("scheduling", ("--max-pages",), {"metavar": "N"}),
    ("scheduling", ("--max-pages-per-host",), {"metavar": "N"}),
    ("scheduling", ("--max-links-per-page",), {"metavar": "N"}),
    ("scheduling", ("--max-depth",), {"metavar": "N"}),
    ("scope", ("--scope",), {"choices": ["host", "domain", "any"]}),
    ("scope", ("--allow-domain",), {"metavar": "D", "action": "append"}),
    ("scope", ("--deny-domain",), {"metavar": "D", "action": "append"}),
    ("scope", ("--include",), {"metavar": "REGEX", "action": "append"}),
    ("scope", ("--exclude",), {"metavar": "REGEX", "action": "append"}),
    ("seeds", ("--sitemap",), {"metavar": "URL", "action": "append"}),
    ("durable crawls", ("--job-dir",), {"metavar": "DIR"}),
    ("durable crawls", ("--frontier",), {"metavar": "URL"}),
    ("durable crawls", ("--max-runtime",), {"metavar": "DURATION"}),
    ("durable crawls", ("--recrawl-after",), {"metavar": "DURATION"}),
    ("distributed crawls", ("--crawl-id",), {"metavar": "NAME"}),
    ("distributed crawls", ("--lease-timeout",), {"metavar": "SECONDS"}),
    ("distributed crawls", ("--workers",), {"metavar": "N"}),
    ("distributed crawls", ("--worker",), {"metavar": "NAME"}),
    ("fetching", ("--user-agent",), {"metavar": "UA"}),
    ("fetching", ("--timeout",), {"metavar": "SECONDS"}),
    ("fetching", ("--max-bytes",), {"metavar": "N"}),
    ("fetching", ("--retries",), {"metavar": "N"}),
    ("fetching", ("--max-idle-connections",), {"metavar": "N"}),
    ("fetching", ("--http-client",), {"choices": ["aiohttp", "curl"]}),
    ("fetching", ("--impersonate",), {"choices": ["chrome", "firefox", "safari", "edge"]}),
    ("requests", ("-H", "--header"), {"metavar": "'NAME: VALUE'", "action": "append"}),
    ("requests", ("--header-scope",), {"choices": ["seeds", "any"]}),
    ("requests", ("--cookie",), {"metavar": "NAME=VALUE", "action": "append"}),
    ("requests", ("--load-cookies",), {"metavar": "FILE"}),
    ("requests", ("--save-cookies",), {"metavar": "FILE"}),
    ("requests", ("--auth",), {"metavar": "USER:PASS"}),
    ("requests", ("--proxy",), {"metavar": "URL"}),
    ("requests", ("--proxy-file",), {"metavar": "FILE"}),
    ("requests", ("--proxy-rotate",), {"choices": ["host", "request"]}),
    ("requests", ("--proxy-tier",), {"metavar": "FILE", "action": "append"}),
    ("requests", ("--ca-bundle",), {"metavar": "FILE"}),
    ("requests", ("--client-cert",), {"metavar": "FILE"}),
    ("requests", ("--client-key",), {"metavar": "FILE"}),
]
# Switches: (group, flag, setting, value set).
_SWITCHES: list[tuple[str, str, str, bool]] = [
    ("scope", "--allow-private", "allow_private", True),
    ("durable crawls", "--changed-only", "changed_only", True),
    ("politeness", "--no-robots", "robots", False),
    ("politeness", "--autothrottle", "autothrottle", True),
    ("seeds", "--use-sitemaps", "use_sitemaps", True),
    ("requests", "--cookies", "cookies", True),
    ("requests", "--netrc", "netrc", True),
    ("requests", "--no-env-proxy", "env_proxy", False),
    ("requests", "--insecure", "insecure", True),
    ("fetching", "--http3", "http3", True),
    ("monitoring", "--otel", "otel", True),
]


def documented_options() -> list[tuple[str, str, str]]:
    """Each option that sets a setting, in the order of ``crawler crawl --help``: (its group,
    the option as written with its value, the setting's key)."""
    rows = []
    for group, flags, extra in _OPTIONS:
        value = extra.get("metavar") or "|".join(extra.get("choices", ()))
        rows.append((group, ", ".join(flags) + (f" {value}" if value else ""), flags[-1][2:].replace("-", "_")))
    rows += [(group, flag, key) for group, flag, key, _ in _SWITCHES]
    rows += [("monitoring", "--progress, --no-progress", "progress")]
    return rows


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return {"": "none", "-": "- (stdout)"}.get(value, str(value)) if isinstance(value, str) else str(value)


EXAMPLES = """\
examples:
  crawler --seeds urls.txt -o crawl.jsonl --job-dir jobs/site    # durable: the same command resumes
  crawler --seeds urls.txt -H "Authorization: Bearer $TOKEN"     # a header to the seeds' hosts
  crawler --seeds urls.txt --load-cookies cookies.txt --save-cookies cookies.txt   # a logged-in session
  crawler --seeds urls.txt --auth "me:$PASSWORD"                 # or --netrc: each host its entry
  crawler --seeds urls.txt --proxy socks5h://127.0.0.1:1080      # or --proxy-file proxies.txt
  crawler --seeds urls.txt --ca-bundle company-ca.pem            # trust a private CA
  crawler --seeds requests.jsonl --max-depth 0 --store-bodies bodies/
      # requests.jsonl: {"url": "https://api.example/q", "method": "POST", "json": {"q": "x"}}
  crawler --spider myspiders:Shop -a category=books --http-cache .cache -o books.jsonl
  crawler shell URL -c 'response.css("h1::text").get()'         # also: crawler fetch URL, crawler parse URL
  crawler demo --serve                                          # the demo shop the examples crawl

Every option can also be set in a TOML file given with --config (keys spelled with
underscores: per_host = 4); the command line wins, then CRAWLER_* environment variables,
then a spider's custom_settings. crawler config --show prints every setting, its value and where
it came from. The documentation is a site built from the repository's docs/ (in a clone:
pip install -e '.[docs]' && mkdocs serve)."""


#: The commands, for the top-level help (``crawl`` is the default: ``crawler URL...``).
COMMANDS = (
    ("crawl", "crawl from seed URLs (the default: crawler URL... is crawler crawl URL...)"),
    ("demo", "crawl a generated site on 127.0.0.1; demo --serve serves the demo shop the examples use"),
    ("extract", "what --extract takes from one page (an HTML file or a URL)"),
    ("shell", "try selectors on a page"),
    ("fetch", "one URL's body or headers, fetched as a crawl would"),
    ("parse", "what one spider callback makes of one page"),
    ("seed", "add seed URLs to a distributed crawl on Redis"),
    ("status", "how a distributed crawl on Redis is going"),
    ("config", "config --show: the effective settings and where each came from"),
    ("serve", "run scheduled crawl jobs and answer an HTTP API about them (crawler serve --help)"),
    ("mcp", "an MCP server over stdio for agents: scrape, crawl, map, extract (crawler mcp --help)"),
)
#: The options the top-level help shows (``crawler crawl --help`` shows them all, grouped).
COMMON_OPTIONS = frozenset({"--seeds", "-o", "--format", "--extract", "--render", "--job-dir", "--max-pages",
                            "--max-depth", "--per-host", "--delay", "--scope", "--user-agent", "-H", "--spider",
                            "--config", "--version", "-h"})
SHORT_EPILOG = "commands:\n" + "\n".join(f"  {name:<9} {text}" for name, text in COMMANDS) + """

crawler crawl --help lists every option, grouped; crawler COMMAND --help, a command's own;
crawler config --show prints every setting, its value and where it came from. The documentation
is a site built from the repository's docs/ (in a clone: pip install -e '.[docs]' && mkdocs serve)."""


def build_parser(prog: str = "crawler", demo: bool = False, shown: frozenset[str] | None = None,
                 description: str | None = None, epilog: str | None = None,
                 usage: str | None = None, urls: bool = True) -> argparse.ArgumentParser:
    """The option parser of a crawl: every help text is a setting's comment in
    ``settings/defaults.toml`` and every default shown is read from there. ``shown``: the
    options its help lists (None: all, grouped; the others are taken all the same); ``urls``:
    seed URLs are taken as arguments."""
    defaults = default_values()
    if demo:
        defaults["output"] = DEMO_OUTPUT
    texts = setting_help()
    p = Parser(
        prog=prog,
        description=description or ("Serve a generated site on 127.0.0.1 and crawl it." if demo else
                                    "Crawl the web from seed URLs and write one JSON record per URL."),
        epilog=epilog if epilog is not None else (None if demo or shown is not None else EXAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
        add_help=False,
        usage=usage,
    )

    def told(flags: tuple[str, ...], text: str) -> str:
        return text if shown is None or shown.intersection(flags) else argparse.SUPPRESS

    p.add_argument("-h", "--help", action="help", help=told(("-h",), "show this help and exit"))
    p.add_argument("--version", action="version", version=f"crawler {__version__}",
                   help=told(("--version",), "show the version and exit"))
    if urls and not demo:
        p.add_argument("urls", nargs="*", metavar="URL", help=told(("--seeds",), "seed URLs (as --seeds gives them)"))
    if not demo:
        p.add_argument("--seeds", metavar="FILE",
                       help=told(("--seeds",), "seed URLs, one a line; - reads stdin (or URLs as arguments, "
                                               "or --sitemap URL)"))
    p.add_argument("--config", metavar="FILE", help=told(("--config",), "TOML settings file (default: none)"))
    groups: dict[str, Any] = {}

    def group_of(name: str) -> Any:
        if shown is not None:
            return p  # one list: the few options shown
        if name not in groups:
            groups[name] = p.add_argument_group(name)
        return groups[name]

    for group, flags, extra in _OPTIONS:
        key = flags[-1][2:].replace("-", "_")
        group_of(group).add_argument(*flags, help=told(flags, f"{texts[key]} (default: {_shown(defaults[key])})"),
                                     **extra)
    for group, flag, key, value in _SWITCHES:
        default = "on" if defaults[key] else "off"
        group_of(group).add_argument(flag, dest=key, action="store_const", const=value,
                                     help=told((flag,), f"{texts[key]} (default: {default})"))
    progress = group_of("monitoring").add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_const", const=True,
                          help=told(("--progress",), f"{texts['progress']} (--progress: true; default: auto)"))
    progress.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                          help=told(("--no-progress",),
                                    "no live progress; a JSON stats line every --stats-interval seconds instead"))
    return p


#: What a command's help says of the crawl options it takes besides its own.
CRAWL_OPTIONS_TOO = "It takes every crawl option too (headers, cookies, proxies, --spider...): crawler crawl --help.\n"


def command_parser(prog: str, description: str, demo: bool = False) -> argparse.ArgumentParser:
    """A command's parser: its help lists the command's own options (added by the caller); the
    crawl's are taken too, and named by :data:`CRAWL_OPTIONS_TOO`."""
    return build_parser(prog, demo=demo, shown=frozenset({"-h", "--config"}), description=description,
                        epilog=CRAWL_OPTIONS_TOO, urls=False)


def top_parser() -> argparse.ArgumentParser:
    """``crawler``'s own parser: a crawl's options, its help short (the commands, the options
    most used)."""
    return build_parser(shown=COMMON_OPTIONS, epilog=SHORT_EPILOG,
                        usage="crawler [URL ...] [--seeds FILE] [options]\n       crawler COMMAND [options]")


def settings_from_args(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> Settings:
    """Settings from parsed options (see :func:`crawler.cli.spiders.settings_and_sources`)."""
    return settings_and_sources(args, defaults)[0]


def show_config(argv: list[str]) -> int:
    """``python -m crawler config --show [options]``: the effective settings and their sources."""
    parser = build_parser("crawler config")
    parser.add_argument("--show", action="store_true", help="print the effective settings and where each came from")
    args = parser.parse_args(argv)
    if not getattr(args, "show", False):
        raise UsageError("config: say --show (python -m crawler config --show [options])")
    settings, sources, _ = settings_and_sources(args)
    values = dataclasses.asdict(settings)
    for key, value in values.items():
        value = masked(key, value)  # credentials are never printed
        shown = list(value) if isinstance(value, tuple) else value
        if key in SIZES and isinstance(shown, int) and shown:
            shown = format_size(shown)  # 10MiB, as a config file may say it
        print(f"{key} = {json.dumps(shown)}  # {sources.get(key, 'default')}")
    return EXIT_OK
