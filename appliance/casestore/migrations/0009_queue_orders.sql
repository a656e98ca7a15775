-- Version 9: queue rows kept in one order per scope. Every intake and every change of a case
-- wrote each of its queue rows into four b-trees: the urgency order (priority, then age) and
-- the age order, each per consulate and across every consulate. A page in age order is now
-- read as the merge of the urgency order's per-priority runs, which are already in age order
-- (queue.rs), so the two age-order indexes are no longer read and are dropped.
DROP INDEX queue_entries_age;
DROP INDEX queue_entries_all_age;
