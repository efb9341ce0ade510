-- Which signed policy each summary and health report was produced under (issue 13): the policy
-- the message was bound to (src/wire/message-aad.ts), by its serial and SHA-256 (hex), as the
-- opener found it (hosts/collector/policy-sources.ts). NULL: a node without a signed policy, or a
-- row stored before this version.
ALTER TABLE summaries ADD COLUMN policy_serial BIGINT;
ALTER TABLE summaries ADD COLUMN policy_sha256 TEXT;
ALTER TABLE health_reports ADD COLUMN policy_serial BIGINT;
ALTER TABLE health_reports ADD COLUMN policy_sha256 TEXT;
