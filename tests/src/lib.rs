//! Helpers for vtid's whole-system tests.
