//! Chat sessions, messages and media.
