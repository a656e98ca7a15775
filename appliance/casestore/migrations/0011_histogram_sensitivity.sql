-- Version 11: response and resolution times are counted per sensitivity as well, so that the
-- dashboard's medians and 90th percentiles, like its counts, are taken only over the cases
-- their viewer may read. A case's times move with it when its sensitivity changes
-- (reclassify.rs); its consulate never changes.
CREATE TABLE response_histogram_v11 (
    consulate TEXT NOT NULL,
    metric TEXT NOT NULL,
    day INTEGER NOT NULL,
    sensitivity TEXT NOT NULL,
    bucket INTEGER NOT NULL CHECK (bucket BETWEEN 0 AND 59),
    n INTEGER NOT NULL,
    PRIMARY KEY (consulate, metric, day, sensitivity, bucket)
) WITHOUT ROWID;

-- Rebuilt from the cases (the old rows have no sensitivity to split them by), with the
-- bounds of version 4: bucket k ≥ 1 starts at 60000 ms grown by ×5/4 (integer division)
-- k-1 times.
INSERT INTO response_histogram_v11
WITH RECURSIVE bounds (k, ms) AS (
         SELECT 1, 60000 UNION ALL SELECT k + 1, ms * 5 / 4 FROM bounds WHERE k < 59),
     times AS (
         SELECT consulate, sensitivity, 'first_response' AS metric, first_response_at AS at,
                first_response_at - created_at AS ms
         FROM cases WHERE first_response_at IS NOT NULL
         UNION ALL
         SELECT consulate, sensitivity, 'resolution', resolved_at, resolved_at - created_at
         FROM cases WHERE resolved_at IS NOT NULL),
     bucketed AS (
         SELECT t.consulate, t.sensitivity, t.metric, t.at / 86400000 AS day,
                (SELECT count(*) FROM bounds b WHERE b.ms <= t.ms) AS bucket
         FROM times t)
SELECT consulate, metric, day, sensitivity, bucket, count(*) FROM (
    SELECT consulate, metric, day, sensitivity, bucket FROM bucketed
    UNION ALL SELECT '*', metric, day, sensitivity, bucket FROM bucketed)
GROUP BY consulate, metric, day, sensitivity, bucket;

DROP TABLE response_histogram;
ALTER TABLE response_histogram_v11 RENAME TO response_histogram;
