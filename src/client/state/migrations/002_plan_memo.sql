-- The plan memo. A row says "the three trees as they are now planned to
-- nothing, with these rules"; every write to a tree deletes it first. A
-- syncd that predates it would not, so it must not open this DB: the
-- schema version fences it off.
CREATE TABLE plan_memo (
  one INTEGER PRIMARY KEY CHECK (one = 1), memo TEXT NOT NULL
) STRICT;
