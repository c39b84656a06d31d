//! Cases 11–15, 17 and 19: what Lyceum refuses to fetch or keeps waiting for, and how failing receivers are retried.
