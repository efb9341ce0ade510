-- The collector's store (issue 12): one schema for SQLite and PostgreSQL. `{{id}}` is an integer
-- primary key the database numbers, `{{bytes}}` a bytes column (sql-database.ts renders both).
-- Times: *_ms are Unix milliseconds (the collector's clock), window_start, time and sealed_at are
-- Unix seconds (the node's clock, as sealed). docs/database.md says what each table keeps and why.

-- The keyring's devices. key_id is the public fingerprint of the device's root key (keyIdFromRoot,
-- hex): a new key starts the device's counters over (syncDevices). NULL: not in the keyring (a
-- device known only from imported lines). newest_epoch: the newest epoch accepted under key_id.
CREATE TABLE devices (
  device TEXT PRIMARY KEY,
  zone TEXT NOT NULL,
  key_id TEXT,
  key_since_ms BIGINT,
  newest_epoch BIGINT,
  first_seen_ms BIGINT,
  last_seen_ms BIGINT
);

-- What the collector remembers of the counters a device used under one key and epoch
-- (EpochCounters' snapshot, epoch-counters.ts): the replay window, the accepted tags (a device's
-- two newest epochs only), the latest seal time. Moved in the same transaction as the rows it
-- admits; never deleted by retention (it is what refuses old replays); an epoch more than 64
-- behind the newest is retired, as the opener does, and refused whole.
CREATE TABLE replay_state (
  device TEXT NOT NULL REFERENCES devices (device),
  key_id TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  window_size INTEGER NOT NULL,
  replay_window {{bytes}} NOT NULL,
  tags {{bytes}},
  sealed_until DOUBLE PRECISION,
  PRIMARY KEY (device, key_id, epoch)
);

-- Every accepted message as received: the sealed bytes (for audit and the dashboard's inspector)
-- and its 16-byte Poly1305 tag. The unique key is the last word on exactly-once.
CREATE TABLE messages (
  id {{id}},
  device TEXT NOT NULL REFERENCES devices (device),
  key_id TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  counter BIGINT NOT NULL,
  kind TEXT NOT NULL,
  topic TEXT NOT NULL,
  received_ms BIGINT NOT NULL,
  sealed_at DOUBLE PRECISION NOT NULL,
  sealed {{bytes}} NOT NULL,
  tag {{bytes}} NOT NULL,
  UNIQUE (device, key_id, epoch, counter)
);

-- One summary per device and window. digest: summaryDigest() of its values (window-index.ts), which
-- tells a window sealed again unchanged (window-duplicate) from one with other values (conflict).
-- message_id NULL: imported from summaries.jsonl, which did not keep the sealed bytes.
CREATE TABLE summaries (
  id {{id}},
  device TEXT NOT NULL REFERENCES devices (device),
  zone TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  window_seconds DOUBLE PRECISION NOT NULL,
  epoch BIGINT NOT NULL,
  counter BIGINT NOT NULL,
  received_ms BIGINT NOT NULL,
  digest TEXT NOT NULL,
  message_id BIGINT REFERENCES messages (id) ON DELETE CASCADE,
  UNIQUE (device, window_start)
);
CREATE INDEX summaries_zone ON summaries (zone, window_start, device);
CREATE INDEX summaries_window ON summaries (window_start, device);
CREATE INDEX summaries_message ON summaries (message_id);

-- A summary's released statistics, in the order the node sent them. A value the node withheld, or a
-- channel without readings, is a status ("suppressed", "budget-exhausted", "missing"; stat "status"
-- for the channel's own), never a number. unit: the channel's SenML unit, on every number but a
-- count (the node sends counts without one).
CREATE TABLE summary_statistics (
  summary_id BIGINT NOT NULL REFERENCES summaries (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  channel TEXT NOT NULL,
  stat TEXT NOT NULL,
  value DOUBLE PRECISION,
  unit TEXT,
  status TEXT,
  PRIMARY KEY (summary_id, position)
);
CREATE INDEX summary_statistics_channel ON summary_statistics (channel, summary_id);

-- Health reports, decoded (JSON: node counters, budget, commands, audit, sensors). key_id 'legacy':
-- imported from health.jsonl, whose lines do not say under which key they were sealed.
CREATE TABLE health_reports (
  id {{id}},
  device TEXT NOT NULL REFERENCES devices (device),
  key_id TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  counter BIGINT NOT NULL,
  time DOUBLE PRECISION NOT NULL,
  received_ms BIGINT NOT NULL,
  report TEXT NOT NULL,
  message_id BIGINT REFERENCES messages (id) ON DELETE CASCADE,
  UNIQUE (device, key_id, epoch, counter)
);
CREATE INDEX health_reports_device ON health_reports (device, time, id);
CREATE INDEX health_reports_time ON health_reports (time);
CREATE INDEX health_reports_message ON health_reports (message_id);

-- Messages refused by the opener: when, on which topic, why. Never the bytes of a rejected message.
CREATE TABLE rejections (
  id {{id}},
  time_ms BIGINT NOT NULL,
  topic TEXT NOT NULL,
  cause TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX rejections_time ON rejections (time_ms);

CREATE TABLE alerts (
  id {{id}},
  time_ms BIGINT NOT NULL,
  kind TEXT NOT NULL,
  device TEXT,
  epoch BIGINT,
  detail TEXT NOT NULL,
  action TEXT NOT NULL
);

-- Downlink commands sent (args as JSON), and their outcome once known.
CREATE TABLE commands (
  id {{id}},
  device TEXT NOT NULL,
  name TEXT NOT NULL,
  args TEXT NOT NULL,
  counter BIGINT NOT NULL,
  sent_ms BIGINT NOT NULL,
  outcome TEXT,
  outcome_ms BIGINT
);
CREATE INDEX commands_device ON commands (device, id);
CREATE INDEX commands_counter ON commands (device, counter);

-- State folders whose collector.json and journals were imported (legacy-import.ts), once each.
CREATE TABLE legacy_imports (
  source TEXT PRIMARY KEY,
  imported_ms BIGINT NOT NULL,
  report TEXT NOT NULL
);
