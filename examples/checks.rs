//! The result checks on the labelled set of `tests/it/faceset.rs`: face-count accuracy, how
//! often "people missing" is raised on correct results, the unchanged and blank checks, and what
//! each step costs beside a plain decode of the same image.
//!
//! `cargo run --release --example checks`

#[path = "../tests/it/faceset.rs"]
mod faceset;

use boothgate::checks::{self, faces};
use boothgate::imaging;
use std::time::{Duration, Instant};

fn main() {
    counting();
    unchanged();
    blank();
    costs();
}

fn counting() {
    let set = faceset::counting_set();
    let mut exact = 0;
    let mut by_group: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    for case in &set {
        let found = faceset::guest_faces(&case.jpeg);
        if found == case.faces {
            exact += 1;
        } else {
            println!("  miscounted: {} — {found} of {}", case.name, case.faces);
        }
        let group = case
            .name
            .split(" from ")
            .next()
            .unwrap_or(&case.name)
            .to_owned();
        let entry = by_group.entry(group).or_default();
        entry.1 += 1;
        entry.0 += u32::from(found == case.faces);
    }
    println!(
        "face count exact: {exact} of {} ({:.1} %)",
        set.len(),
        100.0 * exact as f64 / set.len() as f64
    );
    for (group, (right, all)) in by_group {
        println!("  {group}: {right}/{all}");
    }
    let (raised, results) = faceset::false_missing(&set);
    println!(
        "\"people missing\" on correct results: {raised} of {results} ({:.1} %)",
        100.0 * raised as f64 / results as f64
    );
}

fn unchanged() {
    let mut wrong = 0;
    let set = faceset::unchanged_set();
    let (mut same, mut edited): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for pair in &set {
        let (guest, result) = (faceset::glance(&pair.guest), faceset::glance(&pair.result));
        let share = checks::changed_share(&guest, &result);
        if pair.unchanged {
            &mut same
        } else {
            &mut edited
        }
        .push(share);
        if checks::is_unchanged(&guest, &result) != pair.unchanged {
            wrong += 1;
            println!("  wrong: {} (changed share {share:.4})", pair.name);
        }
    }
    let max_same = same.iter().copied().fold(0.0, f64::max);
    let min_edited = edited.iter().copied().fold(1.0, f64::min);
    println!(
        "unchanged: {} of {} right; changed share handed back ≤ {max_same:.4}, edited ≥ {min_edited:.4}",
        set.len() - wrong,
        set.len()
    );
}

fn blank() {
    let set = faceset::blank_set();
    let wrong: Vec<&str> = set
        .iter()
        .filter(|f| checks::is_blank(&faceset::glance(&f.jpeg)) != f.blank)
        .map(|f| f.name.as_str())
        .collect();
    println!(
        "blank: {} of {} right {wrong:?}",
        set.len() - wrong.len(),
        set.len()
    );
}

/// Median of `runs` timings of `work`.
fn median(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn costs() {
    // A model's answer for a 24 MP upload: 2048 px wide, as the server asks for.
    let answer = faceset::jpeg(&faceset::scaled(&faceset::group(3, 0), 2048.0 / 1536.0), 90);
    let upload = (6000, 4000);
    let decode = median(15, || {
        imaging::decode_answer(&answer, upload, 2048).unwrap();
    });
    let fit = median(15, || {
        let decoded = imaging::decode_answer(&answer, upload, 2048).unwrap();
        imaging::finish_result(decoded, boothgate::domain::ImageFormat::Jpeg).unwrap();
    });
    let decoded = imaging::decode_answer(&answer, upload, 2048).unwrap();
    let look = median(15, || {
        decoded.glance().unwrap();
    });
    let result = decoded.glance().unwrap();
    let guest = faceset::glance(&answer);
    let detect = median(15, || {
        faces::count(&result);
    });
    let closer = decoded.closer_glance().unwrap();
    let detect_closer = median(15, || {
        faces::count(&closer);
    });
    let compare = median(15, || {
        checks::is_blank(&result);
        checks::is_unchanged(&guest, &result);
    });
    println!("one 2048×1365 answer, median of 15:");
    println!("  decode {decode:?}; decode + fit + encode (the server's answer path) {fit:?}");
    println!("  reduced copies {look:?}; blank + unchanged {compare:?}");
    println!("  face count: first look {detect:?}, closer look {detect_closer:?}");
}
