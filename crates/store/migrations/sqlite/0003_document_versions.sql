-- Each document row carries a version: 1 when first written, one more on
-- every write of it; checked writes (compare-and-set) compare it.
ALTER TABLE documents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
