-- Deliveries about one object to one inbox go out in order (a Create before its Update),
-- and a claimed delivery shows until when it is reserved (the admin's "in flight").
ALTER TABLE outbox_deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE outbox_deliveries ADD COLUMN claimed_until TIMESTAMP;
CREATE INDEX outbox_deliveries_order ON outbox_deliveries (inbox_url, ordering_key, id)
    WHERE state IN ('pending', 'held');
-- Retention prunes delivered rows by age.
CREATE INDEX outbox_deliveries_finished ON outbox_deliveries (state, updated_at);
-- Claims take due deliveries oldest first: the index gives them in that order.
DROP INDEX outbox_deliveries_due;
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (state, next_attempt_at, id);
