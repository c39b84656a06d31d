//! The adversarial suite (issue #11): one test per attack, named `case_NN_…` after the
//! issue's list, each run against real instances over real HTTP on both backends.
//!
//! `docs/security.md` maps every case to its test; the few that need the server binary
//! (kill -9) or the crate's internals live elsewhere and are named there.

mod authorization;
mod content;
mod fetch;
mod flood;
mod inbox;
