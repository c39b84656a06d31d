//! Flood resistance: per-address and per-instance rate limits on the inbox and API.
