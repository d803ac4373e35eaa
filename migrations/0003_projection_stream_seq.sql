-- The JetStream sequence of the last message a projection applied. The Postgres checkpoint, not
-- the consumer's ack floor, is the truth: the runner repositions its consumer from here and
-- refuses to apply past a gap (a redelivery that would arrive out of order).
alter table projection_checkpoints add column stream_seq bigint not null default 0;
