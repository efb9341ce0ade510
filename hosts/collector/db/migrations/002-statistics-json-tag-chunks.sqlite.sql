-- Version 2 (issue 12's benchmark: the store spent a third of its CPU on a summary's ~30
-- statistic rows, and read and wrote every device's 2 KB of replay tags in every batch):
--   - a summary's statistics as one JSON text on its row (summary-statistics.ts defines it), and
--     `channels`, the channels that have a statistic ("/noise/pm25/", "%" and "/" in a name
--     written %25 and %2F), for the API's `channel` filter;
--   - a replay window's tags as rows of 16 slots each (replay-tag-chunks.ts), so that a batch
--     reads and writes only the chunks of its own counters.
-- Version 1's rows move into them with SQLite's JSON and byte functions (the .postgres.sql file
-- does the same with PostgreSQL's): the same schema and the same rows after either.
ALTER TABLE summaries ADD COLUMN statistics TEXT NOT NULL DEFAULT '[]';
ALTER TABLE summaries ADD COLUMN channels TEXT NOT NULL DEFAULT '';

-- [channel, stat, value, unit, status], trailing nulls left out, in the node's order (position).
-- json_array writes a REAL with 17 significant digits (it reads back as the same number) and an
-- infinite one as 9.0e+999: written "Infinity" / "-Infinity" instead, as the collector does.
UPDATE summaries SET statistics = e.statistics, channels = c.channels
FROM (
  SELECT summary_id, '[' || string_agg(entry, ',' ORDER BY position) || ']' AS statistics
  FROM (
    SELECT summary_id, position, CASE
      WHEN status IS NOT NULL THEN json_array(channel, stat, number, unit, status)
      WHEN unit IS NOT NULL THEN json_array(channel, stat, number, unit)
      ELSE json_array(channel, stat, number)
    END AS entry
    FROM (
      SELECT summary_id, position, channel, stat, unit, status,
        CASE WHEN value = 9e999 THEN 'Infinity' WHEN value = -9e999 THEN '-Infinity' ELSE value END AS number
      FROM summary_statistics
    )
  )
  GROUP BY summary_id
) AS e
JOIN (
  SELECT summary_id, '/' || string_agg(name, '/' ORDER BY first) || '/' AS channels
  FROM (
    SELECT summary_id, replace(replace(channel, '%', '%25'), '/', '%2F') AS name, min(position) AS first
    FROM summary_statistics
    GROUP BY summary_id, channel
  )
  GROUP BY summary_id
) AS c ON c.summary_id = e.summary_id
WHERE summaries.id = e.summary_id;

DROP TABLE summary_statistics;

-- known: the chunk's 2 bytes of the window's validity bitmap; tags: its slots' 16-byte tags.
-- replay_state.tagged says whether a window keeps tags at all (a device's two newest epochs), as
-- its tags being NULL did.
CREATE TABLE replay_tags (
  device TEXT NOT NULL,
  key_id TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  chunk INTEGER NOT NULL,
  known {{bytes}} NOT NULL,
  tags {{bytes}} NOT NULL,
  PRIMARY KEY (device, key_id, epoch, chunk)
);
ALTER TABLE replay_state ADD COLUMN tagged INTEGER NOT NULL DEFAULT 0;

-- Version 1's tags (the bitmap, ceil(W / 8) bytes, then W tags of 16 bytes) cut into chunks (the
-- last one's bitmap may be a single byte, its tags fewer than 16); tags of another length were not
-- read by version 1 either (the window kept tags, none known).
WITH RECURSIVE chunks (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM chunks WHERE i < 4095)
INSERT INTO replay_tags (device, key_id, epoch, chunk, known, tags)
SELECT r.device, r.key_id, r.epoch, c.i,
  substr(r.tags, 2 * c.i + 1, CASE WHEN (r.window_size + 7) / 8 - 2 * c.i >= 2 THEN 2 ELSE 1 END),
  substr(r.tags, (r.window_size + 7) / 8 + 256 * c.i + 1, 256)
FROM replay_state r JOIN chunks c ON 16 * c.i < r.window_size
WHERE r.tags IS NOT NULL AND length(r.tags) = (r.window_size + 7) / 8 + 16 * r.window_size;
UPDATE replay_state SET tagged = 1 WHERE tags IS NOT NULL;
ALTER TABLE replay_state DROP COLUMN tags;
