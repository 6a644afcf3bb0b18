//! A readable preview of the book for the minutes a fresh machine spends compiling mdbook.
//!
//! `cargo xtask serve` must show the book soon after a clone, but mdbook and mdbook-katex are
//! built from source (several CPU-minutes on two cores). The xtask is already compiled by then
//! and already parses Markdown, so it renders the chapters itself: the pages of `SUMMARY.md` in
//! its order, with a table of contents, the code as a reader sees it (mdbook's hidden `# ` lines
//! left out), links between chapters, and the math, typeset in the browser by KaTeX (the same
//! version and stylesheet the book uses). It serves them on the book's address until mdbook is
//! ready, and then gives the address to `mdbook serve`.
//!
//! What the preview leaves out: the outputs of the code blocks, search, and mdbook's theme.
//! Each page says it is a preview.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

use crate::chapter::markdown_options;

/// KaTeX's script, vendored beside the xtask (its stylesheet is `theme/katex.min.css`).
const KATEX_JS: &str = include_str!("../preview/katex.min.js");

/// An entry of the table of contents: a part title, or a page with its title and source file.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Part(String),
    Page { title: String, file: String },
}

/// The entries of `SUMMARY.md`, in order: `# ` headings other than the first become part
/// titles, links become pages.
pub fn summary(markdown: &str) -> Vec<Entry> {
    let (mut entries, mut text, mut link, mut heading) = (Vec::new(), String::new(), None, None);
    let mut headings = 0;
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { level: HeadingLevel::H1, .. }) => {
                headings += 1;
                heading = Some(String::new());
            }
            Event::End(TagEnd::Heading(HeadingLevel::H1)) => {
                // The first heading is the summary's own title ("Summary").
                if let Some(h) = heading.take().filter(|_| headings > 1) {
                    entries.push(Entry::Part(h));
                }
            }
            Event::Start(Tag::Link { dest_url, .. }) => {
                link = Some(dest_url.to_string());
                text.clear();
            }
            Event::End(TagEnd::Link) => {
                if let Some(file) = link.take().filter(|f| f.ends_with(".md")) {
                    entries.push(Entry::Page { title: text.clone(), file });
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                } else if link.is_some() {
                    text.push_str(&t);
                }
            }
            _ => {}
        }
    }
    entries
}

/// The code of a Rust block as the book shows it: without the lines mdbook hides (`# …` and a
/// lone `#`), and with `##` at the start of a line standing for `#`.
pub fn visible_code(code: &str) -> String {
    let mut out = String::new();
    for line in code.lines() {
        let trimmed = line.trim_start();
        if trimmed == "#" || trimmed.starts_with("# ") {
            continue;
        }
        match trimmed.strip_prefix("##") {
            Some(rest) => out.push_str(&format!("{}#{rest}", &line[..line.len() - trimmed.len()])),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// One chapter's Markdown as HTML: links to `.md` pages point at the preview's `.html` pages,
/// math is left for KaTeX in elements of class `math`, and Rust blocks lose their hidden lines.
pub fn render_page(markdown: &str) -> String {
    let mut events = Vec::new();
    let mut code: Option<(bool, String)> = None;
    for event in Parser::new_ext(markdown, markdown_options() | Options::ENABLE_MATH) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let rust = match &kind {
                    CodeBlockKind::Fenced(info) => info.split([',', ' ']).next() == Some("rust"),
                    CodeBlockKind::Indented => false,
                };
                code = Some((rust, String::new()));
            }
            Event::Text(t) if code.is_some() => {
                if let Some((_, text)) = code.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                let (rust, text) = code.take().unwrap_or_default();
                let shown = if rust { visible_code(&text) } else { text };
                events.push(Event::Html(format!("<pre><code>{}</code></pre>\n", escape(&shown)).into()));
            }
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let dest = match dest_url.split_once('#') {
                    Some((page, anchor)) if page.ends_with(".md") => {
                        format!("{}.html#{anchor}", &page[..page.len() - 3])
                    }
                    _ if dest_url.ends_with(".md") => format!("{}.html", &dest_url[..dest_url.len() - 3]),
                    _ => dest_url.to_string(),
                };
                events.push(Event::Start(Tag::Link { link_type, dest_url: CowStr::from(dest), title, id }));
            }
            Event::InlineMath(m) => events.push(math(&m, false)),
            Event::DisplayMath(m) => events.push(math(&m, true)),
            other => events.push(other),
        }
    }
    let mut out = String::new();
    html::push_html(&mut out, events.into_iter());
    out
}

fn math(tex: &str, display: bool) -> Event<'static> {
    let class = if display { "math display" } else { "math" };
    Event::Html(format!("<span class=\"{class}\">{}</span>", escape(tex)).into())
}

/// Renders every page of `book/SUMMARY.md` under `root` into `out` (an `.html` per page, the
/// stylesheet and KaTeX), and returns how many pages it wrote.
///
/// # Errors
/// If the summary or a page cannot be read, or `out` cannot be written.
pub fn render(root: &Path, out: &Path) -> Result<usize> {
    let book = root.join("book");
    let entries = summary(&fs::read_to_string(book.join("SUMMARY.md")).context("reading book/SUMMARY.md")?);
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    fs::copy(root.join("theme/katex.min.css"), out.join("katex.min.css"))
        .context("copying KaTeX's stylesheet")?;
    fs::write(out.join("katex.min.js"), KATEX_JS)?;
    let mut nav = String::from("<nav><p><strong>Contents</strong></p><ul>");
    for entry in &entries {
        match entry {
            Entry::Part(title) => nav.push_str(&format!("</ul><p class=\"part\">{}</p><ul>", escape(title))),
            Entry::Page { title, file } => {
                nav.push_str(&format!("<li><a href=\"{}\">{}</a></li>", html_name(file), escape(title)));
            }
        }
    }
    nav.push_str("</ul></nav>");
    let mut pages = 0;
    for entry in &entries {
        let Entry::Page { title, file } = entry else { continue };
        let markdown = fs::read_to_string(book.join(file)).with_context(|| format!("reading book/{file}"))?;
        let page = page_html(title, &nav, &render_page(&markdown));
        fs::write(out.join(html_name(file)), &page)?;
        // The first page is also the site's front page.
        if pages == 0 {
            fs::write(out.join("index.html"), &page)?;
        }
        pages += 1;
    }
    Ok(pages)
}

fn html_name(file: &str) -> String {
    format!("{}.html", file.strip_suffix(".md").unwrap_or(file))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page_html(title: &str, nav: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} (preview)</title>
<link rel="stylesheet" href="katex.min.css"><script src="katex.min.js"></script>
<style>
body {{ margin: 0; display: flex; font: 17px/1.6 system-ui, sans-serif; color: #222; }}
nav {{ width: 17em; flex: none; padding: 1em; background: #f4f4f4; height: 100vh; overflow-y: auto; position: sticky; top: 0; box-sizing: border-box; font-size: 15px; }}
nav ul {{ padding-left: 1.2em; margin: 0.2em 0; }} nav .part {{ font-weight: bold; margin: 1em 0 0.2em; }}
main {{ max-width: 48em; padding: 1em 2em 4em; }}
pre {{ background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 14px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; }}
.preview {{ background: #fff6d6; border: 1px solid #e0c860; padding: 0.5em 1em; }}
.math.display {{ display: block; text-align: center; margin: 0.8em 0; }}
</style></head>
<body>{nav}<main>
<p class="preview">A preview: mdbook is still being built. This page has the text and the math but
not yet the outputs under the code; reload once <code>cargo xtask serve</code> says the book is up.</p>
{body}
</main>
<script>
for (const e of document.querySelectorAll(".math")) {{
  katex.render(e.textContent, e, {{ displayMode: e.classList.contains("display"), throwOnError: false }});
}}
</script>
</body></html>
"#,
        title = escape(title)
    )
}

/// A static file server for a folder, on 127.0.0.1, running until [`Server::stop`].
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Server {
    /// Serves `dir` at `127.0.0.1:port`.
    ///
    /// # Errors
    /// If the port cannot be bound.
    pub fn start(dir: PathBuf, port: &str) -> Result<Self> {
        let listener =
            TcpListener::bind(format!("127.0.0.1:{port}")).with_context(|| format!("binding port {port}"))?;
        // Non-blocking, so that the loop sees `stop` and then drops the listener, freeing the port.
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        // A failed answer concerns one request only; the browser retries.
                        let _ = answer(stream, &dir);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Ok(Self { stop, thread })
    }

    /// Stops serving and frees the port.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Answers one GET request with the file it names under `dir` (`/` and folders: `index.html`).
fn answer(stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let mut file = dir.to_path_buf();
    // Only plain names: no `..`, no absolute paths, nothing outside `dir`.
    for part in Path::new(path.trim_start_matches('/')).components() {
        if let Component::Normal(name) = part {
            file.push(name);
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    let mut stream = stream;
    match fs::read(&file) {
        Ok(body) => {
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("css") => "text/css",
                Some("js") => "text/javascript",
                _ => "application/octet-stream",
            };
            write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)
        }
        Err(_) => stream.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_gives_parts_and_pages_in_order() {
        let s = "# Summary\n\n[Intro](index.md)\n\n# Part I: A\n\n- [Gradient `Descent`](gd.md)\n\n# Part II\n\n- [B](b.md)\n\n---\n\n[Licence](licence.md)\n";
        assert_eq!(
            summary(s),
            vec![
                Entry::Page { title: "Intro".into(), file: "index.md".into() },
                Entry::Part("Part I: A".into()),
                Entry::Page { title: "Gradient Descent".into(), file: "gd.md".into() },
                Entry::Part("Part II".into()),
                Entry::Page { title: "B".into(), file: "b.md".into() },
                Entry::Page { title: "Licence".into(), file: "licence.md".into() },
            ]
        );
    }

    #[test]
    fn hidden_lines_are_left_out_and_double_hashes_unescaped() {
        let code = "# extern crate gradstep;\nlet x = 1;\n#\n    # let y = 2;\n##[derive(Debug)]\n#[test]\n";
        assert_eq!(visible_code(code), "let x = 1;\n#[derive(Debug)]\n#[test]\n");
    }

    #[test]
    fn pages_link_to_html_keep_math_for_katex_and_escape_code() {
        let md = "See [GD](gd.md) and [its rate](gd.md#rate), $x_1 < y$ and\n\n$$\\sum_i a_i$$\n\n```rust\n# hidden();\nlet v = a < b;\n```\n";
        let html = render_page(md);
        assert!(html.contains("href=\"gd.html\"") && html.contains("href=\"gd.html#rate\""), "{html}");
        assert!(html.contains("<span class=\"math\">x_1 &lt; y</span>"), "{html}");
        assert!(html.contains("<span class=\"math display\">\\sum_i a_i</span>"), "{html}");
        assert!(html.contains("let v = a &lt; b;") && !html.contains("hidden"), "{html}");
    }

    #[test]
    fn the_server_answers_with_files_and_never_outside_its_folder() {
        let dir = std::env::temp_dir().join(format!("xtask-preview-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("index.html"), "hello").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        drop(listener);
        let server = Server::start(dir.clone(), &port).unwrap();
        let get = |path: &str| {
            let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
            write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
            let mut out = String::new();
            std::io::Read::read_to_string(&mut s, &mut out).unwrap();
            out
        };
        assert!(get("/").ends_with("hello"));
        assert!(get("/../../etc/passwd").starts_with("HTTP/1.0 404"));
        server.stop();
        assert!(TcpListener::bind(format!("127.0.0.1:{port}")).is_ok(), "the port is free again");
        fs::remove_dir_all(dir).unwrap();
    }
}
