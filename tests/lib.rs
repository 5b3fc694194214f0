//! integration tests live in api/
