package models

// MaxOwnerIDs and MaxHostIDs let tests lower the filters' id-list bounds,
// HostWalk the walk of a common host's sort order (0: none).
var (
	MaxOwnerIDs      = &maxOwnerIDs
	MaxOwnerSubquery = &maxOwnerSubquery
	MaxHostIDs       = &maxHostIDs
	HostWalk         = &hostWalk
)

// UsageChunk and UsageChunkMySQL let tests lower the domains a statement
// of a flush covers; ChunkSize is the one used on db.
var (
	PruneBatch      = &pruneBatch
	UsageChunk      = &usageChunk
	UsageChunkMySQL = &usageChunkMySQL
	ChunkSize       = chunkSize
)

// UsageWritersMySQL lets tests write a flush's chunks one at a time.
var UsageWritersMySQL = &usageWritersMySQL
