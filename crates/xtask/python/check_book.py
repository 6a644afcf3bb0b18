"""Load every page of the built book in headless Chromium and check what a reader would see.

Usage: check_book.py --base URL --chromium PATH --search-index FILE
                     [--figures NAME,...] [--math NAME,...] PAGE...

URL is where the book is served (a sub-path such as http://127.0.0.1:PORT/gradstep/, as on a
project site); each PAGE is a file name relative to it (``gd.html``). For every page:

- no JavaScript error is thrown and nothing is logged at the console's error level;
- every request the page makes (stylesheets, scripts, fonts, images) succeeds;
- every local link (``href`` without a scheme) resolves: the target answers 200, and a
  ``#fragment`` names an element of the target page;
- the math is rendered: no ``$`` and no TeX command (``\\frac``...) is left in the text outside
  code and rendered math, and a page whose source has math shows KaTeX output;
- the pages named by --figures (chapters whose notebooks draw) show at least one SVG figure;
- the search index (FILE, as mdbook named it) is served and holds the book's words.

Prints one line per page and a summary line ``pages: N passed, M failed``; exits 1 on any
failure.
"""

import argparse
import sys
import urllib.error
import urllib.parse
import urllib.request

# Text left over from unrendered math: a dollar sign, or a TeX command with an argument or a
# Greek letter. Code, preformatted text and KaTeX's own output are excluded before the test.
LEFTOVER_TEX = r"""
(() => {
  const main = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const found = [];
  const tex = /\\(frac|sqrt|mathbf|mathrm|left|right|top|sum|alpha|beta|eta|lambda|nabla|partial|cdot|leq|geq|begin)\b/;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, .katex, script, style, svg, .output')) continue;
    const text = node.textContent;
    if (text.includes('$') || tex.test(text)) found.push(text.trim().slice(0, 80));
  }
  return found;
})()
"""


def fetch(url):
    """(status, body) of a GET, without raising on HTTP errors."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError as e:
        return f"unreachable ({e})", b""


def check_page(page, base, name, wants_figures, link_cache):
    problems = []
    errors = []
    page.on("pageerror", lambda e: errors.append(f"JavaScript error: {e}"))
    page.on(
        "console",
        lambda m: errors.append(f"console error: {m.text}") if m.type == "error" else None,
    )
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
    page.on(
        "response",
        lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    url = urllib.parse.urljoin(base, name)
    response = page.goto(url, wait_until="load")
    if response is None or response.status != 200:
        return [f"the page itself: HTTP {response.status if response else 'no response'}"]
    page.wait_for_timeout(300)
    problems.extend(errors)

    leftovers = page.evaluate(LEFTOVER_TEX)
    problems.extend(f"unrendered math or a raw '$': {t!r}" for t in leftovers[:5])

    if wants_figures and page.locator("main svg").count() == 0:
        problems.append("no SVG figure, though the chapter's notebook draws some")

    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
    for href in hrefs:
        parsed = urllib.parse.urlparse(href)
        if parsed.scheme or href.startswith("//") or href.startswith("mailto:"):
            continue
        target = urllib.parse.urljoin(url, href)
        doc, _, fragment = target.partition("#")
        if doc not in link_cache:
            link_cache[doc] = fetch(doc)
        status, body = link_cache[doc]
        if status != 200:
            problems.append(f"dead link {href!r} (HTTP {status})")
        elif fragment and doc.endswith(".html"):
            text = body.decode("utf-8", "replace")
            if f'id="{fragment}"' not in text and f"name=\"{fragment}\"" not in text:
                problems.append(f"link {href!r}: no element with id {fragment!r}")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--figures", default="")
    parser.add_argument("--math", default="")
    parser.add_argument("--search-index", required=True)
    parser.add_argument("pages", nargs="+")
    args = parser.parse_args()
    base = args.base if args.base.endswith("/") else args.base + "/"
    figures = set(filter(None, args.figures.split(",")))
    math = set(filter(None, args.math.split(",")))

    from playwright.sync_api import sync_playwright

    failed = 0
    link_cache = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        for name in args.pages:
            page = browser.new_page()
            stem = name.removesuffix(".html")
            problems = check_page(page, base, name, stem in figures, link_cache)
            if stem in math and page.locator("main .katex").count() == 0:
                problems.append("the chapter has math but the page shows no rendered KaTeX")
            page.close()
            if problems:
                failed += 1
                print(f"FAILED {name}", flush=True)
                for problem in problems:
                    print(f"  {problem}", flush=True)
            else:
                print(f"ok     {name}", flush=True)
        browser.close()

    index = urllib.parse.urljoin(base, args.search_index)
    status, body = fetch(index)
    if status != 200 or len(body) < 1000:
        failed += 1
        print(f"FAILED search index: {index} (HTTP {status}, {len(body)} bytes)", flush=True)
    else:
        print(f"ok     search index ({len(body)} bytes)", flush=True)

    total = len(args.pages) + 1
    print(f"pages: {total - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
