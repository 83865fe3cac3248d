-- Chunk lists of the large files this device uploaded or downloaded, so a
-- download can copy chunks any local file holds instead of fetching them.
-- Each list is tied to the file's identity (size, mtime, inode) as it was
-- recorded: a file that changed since no longer matches and is not used,
-- and a chunk's bytes are hashed again before they are copied.
CREATE TABLE chunk_files (
  disk_path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL, ino INTEGER NOT NULL
) STRICT;
CREATE TABLE chunk_spans (
  disk_path TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, chunk TEXT NOT NULL,
  PRIMARY KEY (disk_path, offset)
) STRICT;
CREATE INDEX chunk_spans_chunk ON chunk_spans(chunk);
