//! CLI integration tests (one binary for all).
