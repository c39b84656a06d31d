DROP INDEX outbox_deliveries_due;
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (state, next_attempt_at);
DROP INDEX outbox_deliveries_finished;
DROP INDEX outbox_deliveries_order;
ALTER TABLE outbox_deliveries DROP COLUMN claimed_until;
ALTER TABLE outbox_deliveries DROP COLUMN ordering_key;
