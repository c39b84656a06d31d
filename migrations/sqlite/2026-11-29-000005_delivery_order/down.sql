DROP INDEX outbox_deliveries_finished;
DROP INDEX outbox_deliveries_order;
ALTER TABLE outbox_deliveries DROP COLUMN claimed_until;
ALTER TABLE outbox_deliveries DROP COLUMN ordering_key;
