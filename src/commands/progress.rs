//! Progress of a class run on standard error: a live bar on a terminal (graded out of the
//! class, errors so far, the slowest host still going), plain lines otherwise.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::class::Row;
use crate::expect::format_number;
use crate::report::terminal::sanitize;
use crate::results::Results;
use crate::run::Watch;

pub struct Progress {
    total: usize,
    done: AtomicUsize,
    with_errors: Arc<AtomicUsize>,
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// `already`: candidates graded by an earlier run that this one goes on with.
    pub fn new(total: usize, already: usize, watch: Arc<Watch>) -> Progress {
        let with_errors = Arc::new(AtomicUsize::new(0));
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} graded {wide_msg} {elapsed}")
                    .expect("a valid template"),
            );
            bar.set_position(already as u64);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let ticker = bar.clone().map(|bar| {
            let with_errors = Arc::clone(&with_errors);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(500));
                loop {
                    every.tick().await;
                    let mut parts = Vec::new();
                    match with_errors.load(Ordering::Relaxed) {
                        0 => {}
                        1 => parts.push("1 with errors".to_string()),
                        n => parts.push(format!("{n} with errors")),
                    }
                    if let Some((host, took)) = watch.slowest() {
                        parts.push(format!(
                            "slowest: {} ({}s)",
                            sanitize(&host),
                            took.as_secs()
                        ));
                    }
                    bar.set_message(parts.join(" · "));
                }
            })
        });
        Progress {
            total,
            done: AtomicUsize::new(already),
            with_errors,
            bar,
            ticker,
        }
    }

    /// One more candidate graded, written at `path`.
    pub fn graded(&self, results: &Results, took: Duration, path: &Path) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let row = Row::of(results);
        if row.errors > 0 {
            self.with_errors.fetch_add(1, Ordering::Relaxed);
        }
        let errors_text = match row.errors {
            0 => String::new(),
            1 => ", 1 check could not be evaluated".to_string(),
            n => format!(", {n} checks could not be evaluated"),
        };
        let width = self.total.to_string().len();
        let line = format!(
            "[{done:>width$}/{}] {} {}: {}/20{errors_text} ({:.1}s) -> {}",
            self.total,
            sanitize(&results.candidate.id),
            sanitize(&results.candidate.name),
            format_number(row.mark),
            took.as_secs_f64(),
            path.display()
        );
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.set_position(done as u64);
            }
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
