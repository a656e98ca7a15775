-- Version 4: case versions for optimistic concurrency, merges, sensitivity on queue rows,
-- response and resolution statistics.
SELECT 1;
