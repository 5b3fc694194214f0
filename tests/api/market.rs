//! market over HTTP.
