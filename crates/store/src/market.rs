//! Vendors and sellers.
