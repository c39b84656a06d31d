//! Cases 1–10, 16 and 20: what the inbox refuses, and what repeats or arrives out of order.
