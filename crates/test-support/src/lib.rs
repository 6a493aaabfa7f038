//! Helpers for framecast's own tests, in one place instead of a copy per
//! test file. A dev-dependency only; nothing here is published.
//!
//! - [`alloc`]: a counting global allocator, for the "no allocation per
//!   frame" tests.
//! - [`tools`]: the project's rule for tests that need an external program
//!   (a missing one skips the test with a message, or fails it under
//!   `FRAMECAST_CI=1`), the Python interpreter for interop tests, and a
//!   private X server ([`tools::Xvfb`]).
//! - [`process`]: waiting for a child with a deadline, reading its output
//!   line by line.
//! - [`fixtures`]: test data made in the test (`hexdump -C` text,
//!   certificates from `framecast cert`, and with the `pictures` feature
//!   the test pattern as JPEGs).
//! - `nats` (feature `nats`): throwaway `nats-server` processes and
//!   clusters on free loopback ports.
//! - `x11` (feature `x11`): finding, typing into and screenshotting
//!   windows on the private X server.
//!
//! ```
//! use framecast_test_support::tools::{ci, workspace_root};
//!
//! assert!(workspace_root().join("Cargo.toml").is_file());
//! let _strict = ci(); // FRAMECAST_CI=1: missing tools fail, never skip
//! ```

// docs.rs-style labels on what a feature brings (see `cargo doc` with
// `--cfg docsrs`).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod alloc;
pub mod fixtures;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod nats;
pub mod process;
pub mod tools;
#[cfg(feature = "x11")]
#[cfg_attr(docsrs, doc(cfg(feature = "x11")))]
pub mod x11;
