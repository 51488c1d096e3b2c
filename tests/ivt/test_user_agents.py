"""User-agent classification: real browsers and app SDKs pass, declared bots do not.

Timing (timeit, uncached Patterns.classify, this file's user agents, CPython 3.11): Chrome
Android ~4 µs, Android WebView ~5.5 µs, a Cubot WebView (the "bot" literal forces the regex)
~11 µs, Googlebot ~9 µs; through classify()'s cache ~0.15 µs. The target is well under 20 µs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from apex_mediation.ivt import user_agents
from apex_mediation.ivt.user_agents import (
    KINDS,
    classify,
    load_patterns,
    parse_patterns,
    reload,
    required_literal,
)

CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
SAMSUNG_INTERNET = (
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"
)
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0"
FIREFOX_DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
ANDROID_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36"
)
FACEBOOK_IN_APP = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.193 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/442.0.0.33.113;]"
)
CUBOT_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 11; Cubot X30 Build/RP1A.200720.011; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/114.0.5735.196 Mobile Safari/537.36"
)
CUBOT_CHROME = (
    "Mozilla/5.0 (Linux; Android 12; CUBOT_P40) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/118.0.0.0 Mobile Safari/537.36"
)
BROWSERS = [
    CHROME_ANDROID,
    SAFARI_IOS,
    SAMSUNG_INTERNET,
    FIREFOX_ANDROID,
    FIREFOX_DESKTOP,
    ANDROID_WEBVIEW,
    FACEBOOK_IN_APP,
    CUBOT_WEBVIEW,
    CUBOT_CHROME,
]

OKHTTP = "okhttp/4.12.0"
DALVIK = "Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)"
DALVIK_CUBOT = "Dalvik/2.1.0 (Linux; U; Android 12; CUBOT_X30 Build/SP1A.210812.016)"
CFNETWORK = "MyGame/1.2 CFNetwork/1490.0.4 Darwin/23.2.0"
CFNETWORK_BOT_NAMED_APP = "ChatBot/3.1 CFNetwork/1490.0.4 Darwin/23.2.0"
CFNETWORK_SPIDER_APP = "Spider%20Solitaire/5.2 CFNetwork/1410.0.3 Darwin/22.6.0"
UNITY = "UnityPlayer/2022.3.10f1 (UnityWebRequest/1.0, libcurl/8.1.1-DEV)"
FLUTTER = "Dart/3.2 (dart:io)"
OLD_ANDROID_HTTPCLIENT = "Apache-HttpClient/UNAVAILABLE (java 1.4)"
APPLE_CORE_MEDIA = "AppleCoreMedia/1.0.0.21C62 (iPhone; U; CPU OS 17_2 like Mac OS X; en_us)"
EXOPLAYER = "ExoPlayerLib/2.19.1"
SDK_CLIENTS = [
    OKHTTP,
    DALVIK,
    DALVIK_CUBOT,
    CFNETWORK,
    CFNETWORK_BOT_NAMED_APP,
    CFNETWORK_SPIDER_APP,
    UNITY,
    FLUTTER,
    OLD_ANDROID_HTTPCLIENT,
    APPLE_CORE_MEDIA,
    EXOPLAYER,
]

POSITIVES: dict[str, list[str]] = {
    "spider": [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "Googlebot-Image/1.0",
        "Mediapartners-Google",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
        "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
        "Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
        "+https://openai.com/gptbot)",
        "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
        "ICC-Crawler/3.0 (Mozilla-compatible; ; https://ucri.nict.go.jp/en/icccrawler.html)",
    ],
    "bot": [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "TelegramBot (like TwitterBot)",
        "AdsBot-Google (+http://www.google.com/adsbot.html)",
        "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
        "SomeNewThing-bot/0.3 (+https://example.com/bot.html)",
    ],
    "headless": [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.6099.109 Safari/537.36",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
        "PhantomJS/2.1.1 Safari/538.1",
        "Mozilla/5.0 (linux) AppleWebKit/537.36 (KHTML, like Gecko) jsdom/22.1.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 "
        "Playwright/1.40.0",
    ],
    "script": [
        "curl/8.4.0",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Python-urllib/3.11",
        "Python/3.11 aiohttp/3.9.1",
        "python-httpx/0.27.0",
        "Go-http-client/1.1",
        "Java/1.8.0_392",
        "libwww-perl/6.72",
        "Scrapy/2.11.0 (+https://scrapy.org)",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "axios/1.6.2",
        "PostmanRuntime/7.36.0",
    ],
}


@pytest.fixture(autouse=True)
def _shipped_patterns() -> Iterator[None]:
    reload()
    yield
    reload()


@pytest.mark.parametrize("user_agent", BROWSERS)
@pytest.mark.parametrize("sdk_endpoint", [True, False])
def test_browsers_and_webviews_are_people(user_agent: str, sdk_endpoint: bool) -> None:
    assert classify(user_agent, sdk_endpoint=sdk_endpoint) is None


@pytest.mark.parametrize("user_agent", SDK_CLIENTS)
def test_app_sdk_http_stacks_are_normal_on_sdk_endpoints(user_agent: str) -> None:
    assert classify(user_agent, sdk_endpoint=True) is None


@pytest.mark.parametrize("user_agent", SDK_CLIENTS)
def test_app_sdk_http_stacks_are_scripts_on_web_endpoints(user_agent: str) -> None:
    # A browser is expected there; okhttp or CFNetwork calling the web SDK's endpoint is not one.
    assert classify(user_agent, sdk_endpoint=False) == "script"


@pytest.mark.parametrize(
    ("kind", "user_agent"), [(kind, ua) for kind, uas in POSITIVES.items() for ua in uas]
)
@pytest.mark.parametrize("sdk_endpoint", [True, False])
def test_declared_clients_are_flagged_on_both_endpoints(
    kind: str, user_agent: str, sdk_endpoint: bool
) -> None:
    assert classify(user_agent, sdk_endpoint=sdk_endpoint) == kind


def test_unity_libcurl_is_not_curl() -> None:
    assert classify(UNITY, sdk_endpoint=True) is None
    assert classify("curl/8.1.1", sdk_endpoint=True) == "script"
    assert classify("libcurl/8.1.1", sdk_endpoint=True) is None


def test_the_most_specific_kind_wins() -> None:
    headless_googlebot = "HeadlessChrome/120.0 (compatible; Googlebot/2.1)"
    assert classify(headless_googlebot, sdk_endpoint=True) == "headless"
    # A spider declared through an HTTP library is still a spider.
    assert classify("Googlebot/2.1 python-requests/2.31", sdk_endpoint=True) == "spider"
    # A bot token inside an okhttp user agent is a bot on SDK endpoints too.
    assert classify("Twitterbot/1.0 okhttp/4.12.0", sdk_endpoint=True) == "bot"


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_missing_user_agent(missing: str | None) -> None:
    assert classify(missing, sdk_endpoint=True) is None  # many SDKs send none
    assert classify(missing, sdk_endpoint=False) == "script"  # every browser sends one


def test_only_the_first_kilobyte_is_read() -> None:
    padding = "x" * user_agents.MAX_USER_AGENT_LENGTH
    assert classify("Googlebot/2.1 " + padding, sdk_endpoint=True) == "spider"
    assert classify(padding + " Googlebot/2.1", sdk_endpoint=True) is None


def test_results_are_cached_per_endpoint_kind() -> None:
    user_agents._classify_cached.cache_clear()
    classify(OKHTTP, sdk_endpoint=True)
    classify(OKHTTP, sdk_endpoint=True)
    classify(OKHTTP, sdk_endpoint=False)
    info = user_agents._classify_cached.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 2, 4096)


def test_reload_swaps_patterns_and_clears_the_cache(tmp_path: Path) -> None:
    assert classify("MyCrawlyThing/1.0", sdk_endpoint=True) is None
    custom = tmp_path / "bots.txt"
    custom.write_text("# operator list\nMyCrawlyThing/\tbot\n", encoding="utf-8")
    loaded = reload(custom)
    assert (loaded.count, loaded.source) == (1, str(custom))
    assert classify("MyCrawlyThing/1.0", sdk_endpoint=True) == "bot"
    assert classify("Googlebot/2.1", sdk_endpoint=True) is None
    reload()
    assert classify("MyCrawlyThing/1.0", sdk_endpoint=True) is None
    assert classify("Googlebot/2.1", sdk_endpoint=True) == "spider"


def test_a_bad_file_leaves_the_current_patterns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("Googlebot\tspider\n(unclosed\tbot\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:2: invalid pattern"):
        reload(bad)
    assert user_agents.active().source == user_agents.SHIPPED_FILE
    assert classify("curl/8.4.0", sdk_endpoint=True) == "script"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Googlebot spider\n", r"x:1: expected 'pattern<TAB>kind'"),
        ("Googlebot\tspider\tbot\n", r"x:1: expected 'pattern<TAB>kind'"),
        ("# c\n\nGooglebot\tcrawler\n", r"x:3: unknown kind 'crawler'"),
        ("(Google)bot\tspider\n", r"x:1: use \(\?:\.\.\.\) instead of capturing groups"),
        ("Google(?i)bot\tspider\n", r"x:1: invalid pattern"),
    ],
)
def test_malformed_pattern_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_patterns(text, "x")


def test_pattern_file_accepts_aligning_tabs_and_comments() -> None:
    patterns = parse_patterns("# comment\n\nFooBot/\t\t\tbot\n  \nBarLib/\tscript\n")
    assert patterns.count == 2
    assert patterns.classify("x FooBot/1", sdk_endpoint=True) == "bot"
    assert patterns.classify("barlib/2", sdk_endpoint=True) == "script"


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        ("Googlebot", "googlebot"),
        (r"\bSlurp\b", "slurp"),
        (r"^Java/\d", "java/"),
        (r"(?<![\w.-])curl/\d", "curl/"),
        (r"(?<!cu)(?<!ro)bots?(?:[/;)]|$)", "bot"),
        (r"\bYandex[a-z]*Bot\b", "yandex"),
        (r"\bAhrefs(?:Bot|SiteAudit)\b", "ahrefs"),
        (r"archive\.org_bot", "archive.org_bot"),
        (r"abc{2,3}def", "def"),
        (r"abcd*ef", "abc"),
        (r"abc+def", "abc"),  # both required, not adjacent: the first longest
        (r"ab.cd", None),  # no run of three
        (r"foo|barbaz", None),  # top-level alternation: nothing is required
        (r"\x41bcdef", None),  # multi-character escapes: not read
        (r"(?:foo|bar)", None),
        (r"[abc]defg[h]", "defg"),
        (r"[]x]yzw", "yzw"),
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert required_literal(pattern) == literal


def _reference_classify(user_agent: str, *, sdk_endpoint: bool) -> str | None:
    """Every shipped pattern run on its own, no prefilter: what classify() must agree with."""
    text = resources.files("apex_mediation.ivt").joinpath("data", "bot_user_agents.txt")
    rules: list[tuple[str, re.Pattern[str]]] = []
    for line in text.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            pattern, kind = (field for field in line.split("\t") if field)
            rules.append((kind.strip(), re.compile(pattern, re.IGNORECASE | re.ASCII)))
    ua = user_agent.strip()[: user_agents.MAX_USER_AGENT_LENGTH]
    ua = re.sub(r"^[^/]+/\S*\s+(?=CFNetwork/)", "", ua, count=1, flags=re.IGNORECASE)
    for kind in KINDS:
        if any(k == kind and p.search(ua) for k, p in rules):
            return kind
    if not sdk_endpoint and any(k == "sdk_client" and p.search(ua) for k, p in rules):
        return "script"
    return None


@pytest.mark.parametrize("sdk_endpoint", [True, False])
def test_the_literal_prefilter_never_hides_a_match(sdk_endpoint: bool) -> None:
    corpus = [*BROWSERS, *SDK_CLIENTS, *(ua for uas in POSITIVES.values() for ua in uas)]
    corpus += [ua.upper() for ua in corpus] + [ua.lower() for ua in corpus]
    patterns = load_patterns()
    for ua in corpus:
        expected = _reference_classify(ua, sdk_endpoint=sdk_endpoint)
        assert patterns.classify(ua, sdk_endpoint=sdk_endpoint) == expected, ua


def test_every_shipped_pattern_has_a_literal() -> None:
    # Patterns without one run on every request; the shipped file should have none.
    assert load_patterns().unkeyed == ()
