//! The one integration-test binary: the real server on port 0 with a throw-away data folder,
//! providers faked over real HTTP, and a headless browser for the admin.

mod common;
mod samples;
mod strangers;
mod tablet;

mod admin;
mod alerts;
mod availability;
mod booths;
mod browser;
mod checks;
mod deepseek;
mod delivery;
mod events;
mod faceset;
mod fallbacks;
mod faults;
mod gemini;
mod hardening;
mod ingest;
mod lifecycle;
mod preflight;
mod rehearsal;
mod turbotext;
