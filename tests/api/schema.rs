//! Schema invariants.
