//! The HTML reports opened in a real browser: headless Chromium (Debian's `chromium`,
//! installed by .ci/run) renders `labgrade report`'s class.html and a candidate's
//! report.html from tests/fixtures/class, takes a screenshot of each under
//! target/report-screenshots/, logs no console message, and the DOM it built has one grid
//! row per candidate and no script. Issue 5, point 5.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = Path::new(dir).join("chromium");
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "chromium is not installed: `apt-get install chromium` (Debian package chromium, in .ci/run's list); \
         the HTML reports are tested in a real browser, never skipped"
    );
}

/// What Chromium made of a page: the DOM after parsing, and its console messages.
struct Page {
    dom: String,
    console: Vec<String>,
    /// The screenshot's size in bytes.
    png: usize,
}

/// Chromium as root, offline, with a profile of its own: the flags that work here.
fn headless(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

fn open(page: &Path, screenshot: &Path) -> Page {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let dump = headless(profile.path())
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(dump.status.success(), "chromium --dump-dom {url}: {dump:?}");
    let _ = std::fs::remove_file(screenshot);
    let shot = headless(profile.path())
        .args(["--window-size=1280,1600", "--hide-scrollbars"])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "chromium --screenshot {url}: {shot:?}"
    );
    let png = std::fs::read(screenshot)
        .unwrap_or_else(|e| panic!("no screenshot {}: {e}", screenshot.display()));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{}",
        screenshot.display()
    );
    let console = [&dump.stderr, &shot.stderr]
        .iter()
        .flat_map(|err| {
            String::from_utf8_lossy(err)
                .lines()
                .filter(|l| l.contains("CONSOLE"))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    Page {
        dom: String::from_utf8(dump.stdout).unwrap(),
        console,
        png: png.len(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_html_reports_open_in_chromium_without_a_console_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("class");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/class"),
        &dir,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_labgrade"))
        .args(["report", dir.to_str().unwrap(), "--format", "html"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let class = open(&dir.join("class.html"), &screenshots().join("class.png"));
    assert!(class.console.is_empty(), "{:#?}", class.console);
    // A page with colours and a grid, not a blank one.
    assert!(class.png > 30_000, "{} bytes", class.png);
    // One grid row per candidate, in the roster's order.
    let rows: Vec<&str> = class
        .dom
        .match_indices("<tr class=\"candidate\" data-candidate=\"")
        .map(|(at, m)| {
            let rest = &class.dom[at + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(rows, ["c01", "c02", "c03"]);
    // Four task columns: a cell each per row, coloured and with a symbol.
    assert_eq!(class.dom.matches("<td class=\"cell v-").count(), 12);
    assert_eq!(class.dom.matches("class=\"band").count(), 10);
    assert!(!class.dom.contains("<script"));

    let c02 = open(
        &dir.join("c02/report.html"),
        &screenshots().join("c02-report.png"),
    );
    assert!(c02.console.is_empty(), "{:#?}", c02.console);
    // The hostile evidence of the fixture is text in the page: no element came of it.
    assert!(!c02.dom.contains("<script"), "{}", c02.dom);
    assert!(c02.dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Evidence folded: a <details> per check.
    assert_eq!(c02.dom.matches("<details>").count(), 5);
    // Self-contained: nothing fetched from anywhere.
    for page in [&class.dom, &c02.dom] {
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains(" src=") && !page.contains("<link"));
    }
}

/// The console check itself: a page that logs is caught, so an empty list above means
/// something.
#[test]
fn a_console_message_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("logs.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('caught')</script></body></html>",
    )
    .unwrap();
    let seen = open(&page, &dir.path().join("logs.png"));
    assert!(
        seen.console.iter().any(|l| l.contains("\"caught\"")),
        "{:#?}",
        seen.console
    );
}
