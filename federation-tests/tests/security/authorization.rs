//! Case 22: writes to other people's objects are refused, and `internal` and `partners` content does not leak.
