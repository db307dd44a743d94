//! Helpers for end-to-end scenarios across sengu executables.
